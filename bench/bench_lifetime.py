"""Widget lifetime: 1,000 answers in one real kernel; live widgets and retained memory per answer.

One kernel (started with ``PYTHONTRACEMALLOC=1``, so everything is traced from its start), one
simulator (unpaced). After a warm-up (imports, client, caches: 30 answers) we ask 1,000 questions
in rounds of ten: 4 blocking ``%%dbchat`` cells, 3 ``--background`` cells (each waited for by a
cell), 3 questions to one ``ChatPanel`` (5 visible turns). At 0, 500 and 1,000 answers the kernel
reports (after ``gc.collect()``): open widgets, open comms, RSS, traced memory, and the size of
what the conversations keep on purpose.

Separating the conversation's own text: the kernel sums ``sys.getsizeof`` of every distinct string
its conversations hold (question, question as sent, answer, reasoning, error) — *conversation
text* — and, separately, the rest of those turn records (Turn, ChatResult, Usage, Metrics objects
and their dicts) — *turn records*, which count as retained. Then the same cells run again with
every line commented out (a cell that prints its status prints the same line): what the kernel keeps
for any executed cell (input history and ``_iN`` names, compile cache, stdout history on IPython 9,
the received message's signature in jupyter_client's replay guard ``Session.digest_history``, a
set bounded at ``digest_history_size`` = 65,536 entries) — *kernel per cell*. The goal is judged on
traced growth − conversation text − kernel per cell. The biggest allocation sites (by source line)
of the second half are listed, and the message signatures kept per answer and per control cell.

Run: ``.venv/bin/python bench/bench_lifetime.py`` (and with ``.venv-dbr``); writes
``bench/results/lifetime.md`` with one row per stack. Exit status 1 when widgets are not flat or
more than 2 KB per answer is retained beyond the conversation text and the kernel's own per-cell
bookkeeping.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_frontend import _run, _start_kernel
from dbchat_magic.simulator import LLAMA, Simulator

ANSWERS = int(os.environ.get("BENCH_LIFETIME_ANSWERS", "1000"))  # a multiple of 20
CHECKPOINTS = (0, ANSWERS // 2, ANSWERS)
WARM_UP_ROUNDS = 3
LIMIT_BYTES = 2048
RESULTS = Path(os.environ.get("BENCH_LIFETIME_RESULTS")
               or Path(__file__).parent / "results" / "lifetime.md")
SENT_NOTE = (  # kernel-side sites the control cannot reproduce (diagnosed 2026-12-01)
    "`orjson.dumps` in `session.py` (356 B per answer on ipykernel 7.4, 249 B on 6.29.5, until "
    "commit afb6e7e) was the UTF-8 form orjson caches inside a non-ASCII string it serializes: "
    "the settled output's text/plain and the answer widget's entry were the very answer string "
    "the conversation keeps (and `orjson.dumps(body)` in `_request.py` did the same to the earlier "
    "answers sent as history); `sys.getsizeof` counts that cache, so it was charged to the "
    "conversation text. `_distutils_hack` (118 B on 6.29.5) was setuptools' finder asked for "
    "`sniffio`, which httpcore imports on every request and that stack lacked, and for `mlflow` "
    "(tracing's check): each lookup left a new `spec_for_…` string in the type attribute cache. "
    "The config is read per question (`json/decoder.py`): each answer kept that read's copy of "
    "the endpoint name until answers shared one (commit e7e63af)."
)

SETUP = f"""\
%load_ext dbchat_magic
%dbchat use {LLAMA}
"""
PROBE_CODE = r'''
import dataclasses as _dc, gc as _gc, json as _json, sys as _sys, time as _time, tracemalloc as _tm
from dbchat_magic import ChatPanel
from dbchat_magic.conversation import get_conversation as _conv
from dbchat_magic.ui._widget_lifetime import live_widgets as _lw, open_comms as _oc

panel = ChatPanel(list_endpoints=False, visible_turns=5)
bg_last = None

def _bg_wait(timeout=60.0):
    global bg_last
    end = _time.monotonic() + timeout
    while bg_last is None and _time.monotonic() < end:
        _time.sleep(0.002)
    status, bg_last = getattr(bg_last, "status", None), None
    return status

def _warm_done(timeout=600.0):
    """Wait until the background renderer warm-up (imports Altair etc. once) has finished."""
    import threading
    end = _time.monotonic() + timeout
    while _time.monotonic() < end and any(
            t.name == "dbchat-render-warm-up" for t in threading.enumerate()):
        _time.sleep(0.1)

def _deep(obj, seen):
    """(text bytes, other bytes) of a turn record, each object once."""
    if id(obj) in seen:
        return 0, 0
    seen.add(id(obj))
    if isinstance(obj, str):
        return _sys.getsizeof(obj), 0
    size, text = _sys.getsizeof(obj), 0
    if isinstance(obj, dict):
        parts = [*obj.keys(), *obj.values()]
    elif isinstance(obj, (list, tuple, set)):
        parts = list(obj)
    elif _dc.is_dataclass(obj):  # ChatResult, Usage, Metrics use __slots__
        parts = [getattr(obj, f.name) for f in _dc.fields(obj)]
    elif hasattr(obj, "__dict__"):
        parts = [vars(obj)]
    else:
        parts = []
    for part in parts:
        t, o = _deep(part, seen)
        text, size = text + t, size + o
    return text, size

def _probe(answers):
    _gc.collect()
    # first: the walk below builds a set of every record's id, which must not count as retained
    traced = _tm.get_traced_memory()[0] if _tm.is_tracing() else 0
    rss = next(int(line.split()[1]) for line in open("/proc/self/status")
               if line.startswith("VmRSS:"))
    seen = set()
    text = records = 0
    turns = 0
    for conversation in (_conv("cells"), _conv("bg"), panel.session.conversation):
        for turn in conversation.turns:
            t, o = _deep(turn, seen)
            text, records, turns = text + t, records + o, turns + 1
    walk = _tm.get_traced_memory()[0] - traced if _tm.is_tracing() else 0  # the set, still alive
    shell = get_ipython()
    session = shell.kernel.session  # its replay guard keeps the signature of each received message
    print(_json.dumps({"answers": answers, "turns": turns, "widgets": len(_lw()),
                       "comms": _oc(), "rss_kb": rss, "traced": traced, "text": text,
                       "records": records, "walk": walk, "cells": shell.execution_count,
                       "digests": len(session.digest_history),
                       "digest_cap": session.digest_history_size}))

def _dump(path):
    _gc.collect()
    snapshot = _tm.take_snapshot()
    snapshot.dump(path)
    del snapshot
'''


def _stdout(seen: list[tuple[float, dict[str, Any]]]) -> str:
    return "".join(m["content"].get("text", "") for _, m in seen
                   if m["header"]["msg_type"] == "stream" and m["content"].get("name") == "stdout")


def _errors(seen: list[tuple[float, dict[str, Any]]]) -> list[str]:
    return [m["content"].get("evalue", "") or "\n".join(m["content"].get("traceback", []))
            for _, m in seen if m["header"]["msg_type"] == "error"]


def _checked(kc: Any, code: str, timeout: float = 120) -> str:
    seen = _run(kc, code, timeout)
    errors = _errors(seen)
    if errors:
        raise RuntimeError(f"{code[:60]!r} failed: {errors}")
    return _stdout(seen)


def _cells(n: int) -> list[tuple[str, str | None]]:
    """The cells of one round from answer ``n`` on: (code, expected last stdout line or None)."""
    cells: list[tuple[str, str | None]] = []
    for i in range(n, n + 4):
        cells.append((f"%%dbchat -c cells\nblocking question {i} about revenue", None))
    for i in range(n + 4, n + 7):
        cells.append((f"%%dbchat --background -c bg -o bg_last\nbackground question {i}", None))
        cells.append(("print(_bg_wait())", "completed"))
    for i in range(n + 7, n + 10):
        cells.append((f"panel.ask('panel question {i}')\nprint(panel.wait(60).status)",
                      "completed"))
    return cells


def _control_cell(code: str, expect: str | None) -> str:
    """``code`` with every line commented out; a cell that prints prints the same line (IPython 9
    keeps each cell's stdout in ``history_manager.outputs``: kernel bookkeeping, not an answer)."""
    commented = "\n".join("#" + line for line in code.splitlines())
    return commented if expect is None else f"{commented}\nprint({expect!r})"


def _round(kc: Any, first: int, *, control: bool = False) -> int:
    """Ten answers (4 blocking, 3 background, 3 panel) numbered from ``first``; returns the next.

    ``control``: the very same cells with every line commented out (and the same printed line
    where the cell prints one) — what the kernel itself keeps per executed cell (input history,
    compile cache, stdout history, message signatures), no answer.
    """
    for code, expect in _cells(first):
        if control:
            _checked(kc, _control_cell(code, expect))
            continue
        out = _checked(kc, code).strip()
        if out.splitlines() != ([] if expect is None else [expect]):  # the control prints the same
            raise RuntimeError(f"{code[:50]!r}: {out!r}")
    return first + 10


def _probe(kc: Any, answers: int) -> dict[str, Any]:
    return json.loads(_checked(kc, f"_probe({answers})").strip().splitlines()[-1])


def _growth_by_line(before: Path, after: Path, limit: int = 14) -> list[list[Any]]:
    """The source lines whose live allocations grew most between two kernel snapshots (each
    allocation is charged to the line that made it); first rows: the sums over dbchat_magic's own
    files and over all other files. Rows: [where, bytes, blocks, source of that line]."""
    import linecache
    import tracemalloc

    diff = tracemalloc.Snapshot.load(str(after)).compare_to(
        tracemalloc.Snapshot.load(str(before)), "lineno")
    ours = [d for d in diff if "/dbchat_magic/" in d.traceback[0].filename]
    others = [d for d in diff if "/dbchat_magic/" not in d.traceback[0].filename]
    totals = [[label, sum(d.size_diff for d in part), sum(d.count_diff for d in part), ""]
              for label, part in (("(all dbchat_magic files)", ours),
                                  ("(all other files)", others))]
    rows = []
    for d in diff[:limit]:
        frame = d.traceback[0]
        code = linecache.getline(frame.filename, frame.lineno).strip()
        rows.append([f"{frame.filename}:{frame.lineno}", d.size_diff, d.count_diff, code[:70]])
    return totals + rows


def _answers(kc: Any, tmp: Path, n: int) -> tuple[list[dict[str, Any]], dict[int, Path]]:
    """The measured answers from number ``n`` on: probes and snapshots at the checkpoints."""
    snaps = {0: tmp / "snap-0.tm"}
    _checked(kc, f"_dump({str(snaps[0])!r})")  # first: a snapshot's one-time costs come before 0
    points = [_probe(kc, 0)]
    done = 0
    while done < ANSWERS:
        n = _round(kc, n)
        done += 10
        if done in CHECKPOINTS:
            snaps[done] = tmp / f"snap-{done}.tm"
            _checked(kc, f"_dump({str(snaps[done])!r})")
            points.append(_probe(kc, done))
    return points, snaps


def _machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                .splitlines() if ln.startswith("model name")), "unknown CPU")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"machine: {cpu}, {os.cpu_count()} cores, load {load}; Python "
            f"{sys.version.split()[0]}")


def measure() -> dict[str, Any]:
    """Warm up, 1,000 answers with probes at the checkpoints, then the control cells."""
    with Simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
        env.update(sim.env(), DBCHAT_CONFIG_DIR=tmp, IPYTHONDIR=str(Path(tmp) / "ipython"),
                   PYTHONTRACEMALLOC="1")  # traced from the kernel's start: no one-time skew
        km, kc = _start_kernel(env, Path(tmp))
        try:
            _checked(kc, SETUP)
            _checked(kc, PROBE_CODE)
            n = 0
            for _ in range(WARM_UP_ROUNDS):
                n = _round(kc, n)
            _checked(kc, "_warm_done()", 900)  # its one-time imports must not count as per answer
            started = time.monotonic()
            points, snaps = _answers(kc, Path(tmp), n)
            seconds = time.monotonic() - started
            top = _growth_by_line(snaps[CHECKPOINTS[1]], snaps[ANSWERS])
            for first in range(n, n + ANSWERS, 10):
                _round(kc, first, control=True)
            control = _probe(kc, ANSWERS)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return {"points": points, "control": control["traced"] - points[-1]["traced"],
            "control_point": control, "top": top,
            "machine": _machine(),
            "seconds": seconds,
            "stack": f"ipykernel {md.version('ipykernel')}, ipywidgets {md.version('ipywidgets')}"}


def per_answer(result: dict[str, Any]) -> dict[str, float]:
    """Growth per answer (0 → last checkpoint unless said): traced, text, records, kernel, RSS."""
    first, mid, last = result["points"][0], result["points"][1], result["points"][-1]
    n = last["answers"] - first["answers"]
    traced = (last["traced"] - first["traced"]) / n
    text = (last["text"] - first["text"]) / n
    kernel = result["control"] / n
    steady = ((last["traced"] - mid["traced"]) - (last["text"] - mid["text"])) / (
        last["answers"] - mid["answers"])
    half = last["answers"] - mid["answers"]
    ours = result["top"][0][1] / half - (last["text"] - mid["text"]) / half  # dbchat_magic files
    walk = (last.get("walk", 0) - first.get("walk", 0)) / n
    return {"traced": traced, "text": text, "records": (last["records"] - first["records"]) / n,
            "walk": walk,
            "kernel": kernel, "beyond": traced - text, "net": traced - text - kernel,
            "steady": steady - kernel, "ours": ours,
            "rss": (last["rss_kb"] - first["rss_kb"]) * 1024 / n}


def _row(result: dict[str, Any]) -> str:
    pts = result["points"]
    g = per_answer(result)
    widgets = " → ".join(f"{p['widgets']}/{p['comms']}" for p in pts)
    rss = " → ".join(f"{p['rss_kb'] / 1024:.0f}" for p in pts)
    return (f"| {result['stack']} | {widgets} | {rss} | {g['rss']:,.0f} | {g['traced']:,.0f} | "
            f"{g['text']:,.0f} | {g['records']:,.0f} | {g['kernel']:,.0f} | "
            f"{g['beyond']:,.0f} | **{g['net']:,.0f}** | {g['steady']:,.0f} | {g['ours']:,.0f} | "
            f"{g['walk']:,.0f} | {result['seconds']:.0f} s |")


def _signature_row(result: dict[str, Any]) -> str | None:
    """Cells run and message signatures kept per answer, and per answer's worth of control cells."""
    control = result.get("control_point")
    first, last = result["points"][0], result["points"][-1]
    if control is None or "digests" not in first:
        return None  # a result from before these were counted
    n = last["answers"] - first["answers"]

    def per(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
        return (b[key] - a[key]) / n

    return (f"| {result['stack']} | {per(first, last, 'cells'):.2f} cells, "
            f"{per(first, last, 'digests'):.2f} signatures | {per(last, control, 'cells'):.2f} "
            f"cells, {per(last, control, 'digests'):.2f} signatures | "
            f"{last['digests']:,} of {last['digest_cap']:,} |")


def _top_rows(result: dict[str, Any]) -> list[str]:
    n = result["points"][-1]["answers"] - result["points"][1]["answers"]
    rows = []
    for where, size, count, *code in result["top"]:
        short = where if where.startswith("(") else "/".join(Path(where).parts[-3:])
        shown = short if short.startswith("(") else f"`{short}`"
        source = f"`{code[0].replace('|', '¦')}`" if code and code[0] else ""
        rows.append(f"| {result['stack']} | {shown} | {size / n:,.0f} | {count / n:.1f} | "
                    f"{source} |")
    return rows


def write(result: dict[str, Any]) -> None:
    """Add/replace this stack's rows in bench/results/lifetime.md."""
    rows: dict[str, str] = {}
    signatures: dict[str, str] = {}
    tops: dict[str, list[str]] = {}
    if RESULTS.exists():
        for line in RESULTS.read_text().splitlines():
            cells = line.split("|")
            if line.startswith("| ipykernel") and len(cells) > 8:
                rows[cells[1].strip()] = line
            elif line.startswith("| ipykernel") and "signatures" in cells[2]:
                signatures[cells[1].strip()] = line
            elif line.startswith("| ipykernel"):
                tops.setdefault(cells[1].strip(), []).append(line)
    rows[result["stack"]] = _row(result)
    signature = _signature_row(result)
    if signature is not None:
        signatures[result["stack"]] = signature
    tops[result["stack"]] = _top_rows(result)
    mid = f"{CHECKPOINTS[1]:,}"
    text = [
        "## Widget lifetime (goal: flat widgets, ≤ 2 KB per answer beyond the conversation text)",
        "",
        f"`bench/bench_lifetime.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{result.get('machine', '')}. "
        f"{ANSWERS:,} answers in one real kernel against the simulator (unpaced), in rounds of "
        "4 blocking cells, 3 `--background` cells (each followed by a cell that waits for it) "
        "and 3 questions to one ChatPanel (5 visible turns, asked from a cell), after "
        f"{WARM_UP_ROUNDS * 10} warm-up answers. Columns at "
        f"{' → '.join(f'{c:,}' for c in CHECKPOINTS)} answers (after `gc.collect()`); "
        f"per-answer growth from 0 to {ANSWERS:,}. *traced* = `tracemalloc` growth. "
        "*conversation text* = `sys.getsizeof` of every distinct string the conversations keep "
        "(questions, answers, reasoning, errors). *turn records* = the rest of those turns "
        "(Turn, ChatResult, Usage, Metrics, their numbers and dicts): kept on purpose, and counted "
        "in what is retained beyond the text. *kernel per cell* = what the kernel itself keeps "
        "for the same cells with every line commented out, a cell that prints its status "
        "printing the same line (IPython input history and `_iN` names, compile cache, "
        "stdout history on IPython 9, and the signature of each received message that "
        "jupyter_client's replay guard `Session.digest_history` keeps: a set bounded at "
        "`digest_history_size` = 65,536 entries, ~97 B each plus its table), run afterwards "
        "in the same kernel. "
        "**beyond text and kernel** = traced − conversation text − kernel per cell (the goal); "
        f"*steady* = the same from {mid} to {ANSWERS:,}. *dbchat_magic files beyond text* = "
        f"the growth ({mid} → {ANSWERS:,}) of allocations made in the package's own files minus "
        "the conversation text of those answers. Before this "
        "change each answer left ~24 widgets and comms open (4,800 after 200 answers) and RSS "
        "grew 90–740 KB per question. With the earlier control (every line commented out, "
        "nothing printed: IPython 9's stdout history of the waiting cells counted as retained) "
        "a run at "
        "2026-12-01 11:42 UTC measured 2,205 B (ipykernel 6.29.5) and 2,556 B (7.4.0) per "
        "answer beyond text and kernel. Runs started 2026-12-01 14:44 UTC came before answers "
        "shared one copy of the endpoint "
        "name, the server's model name and its finish reason (commits af030d7, e7e63af); that "
        "takes three strings per answer off the turn records (here 87 + 83 + 53 = 223 B). A "
        "200-answer check after them on both stacks (15:17 UTC; not a goal measurement: one-time "
        "table resizes weigh 5× more) no longer lists `loads(raw)` in `_wire.py` or "
        "`json/decoder.py`; the package's allocations beyond the answer-text line fell from 716 "
        "to 587 B (ipykernel 6.29.5) and from 724 to 589 B (7.4.0) per answer, 2 blocks fewer. "
        "Every run before 2026-12-02 read the traced memory after the probe had walked the turn "
        "records, while the walk's set of every record's `id` was still alive, so that set was "
        "counted as retained: the last such runs (2026-12-01 20:40 UTC, branch e-life at "
        "2ba053b) reported 2,389 B (6.29.5) and 2,440 B (7.4.0) per answer. The probe now reads "
        "it first; *probe's id set* is that set, measured while it is alive (not counted).",
        "",
        "| stack | widgets/comms open | RSS MiB | RSS B/answer | traced B/answer | "
        "conversation text B/answer | turn records B/answer | kernel per cell B/answer | "
        "beyond text B/answer | beyond text and kernel B/answer | steady B/answer | "
        "dbchat_magic files beyond text B/answer | probe's id set B/answer | time |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *sorted(rows.values()),
        "",
        "Per-cell kernel bookkeeping, answers vs control: cells run and signatures kept in "
        "`Session.digest_history` (jupyter_client's replay guard: one ~97 B signature per "
        "received message, the set culled by 10 % once it passes its cap) per answer, for the "
        "answers and for the control cells; equal counts mean the control charges the same "
        "messages. No frontend is attached here, so the kernel receives only the cells' "
        "execute requests; a frontend that syncs widget state adds one signature per message "
        "it sends, bounded by the same cap.",
        "",
        "| stack | answers: per answer | control: per answer | kept at the end / cap |",
        "|---|---|---|---:|",
        *[signatures[key] for key in sorted(signatures)],
        "",
        f"Where the traced growth of the steady half ({mid} → {ANSWERS:,}) lives, by the source "
        "line that made each allocation (bytes and blocks per answer, and that line's code; "
        "tracebacks: `bench/_lifetime_sites.py`). The package's: `result.text += …` in "
        "`_accumulate.py` is the answer text, one block per answer, held once (the turn refers to "
        "the same string); its other lines and `<string>` are the ChatResult/Usage/Metrics "
        "records and their numbers; `loads(raw)` in `_wire.py` the parsed usage numbers kept in "
        "Usage (before af030d7 also a copy of the model name and finish reason); `conversation.py` "
        "the Turn. The kernel's: in `jupyter_client/session.py`, "
        "`bytes(msg.bytes)` is the signature of each received execute request that "
        "`digest_history` keeps, `orjson.loads` that request's content (the cell source the input "
        "history keeps), `digest_history.add` that set's table; in IPython, `compilerop.py` the "
        "compile cache and linecache entry of each cell (the magic cell's transformed source is "
        "a little longer than the commented-out control), `history.py` the input history and "
        "`_iN` names, `interactiveshell.py` (IPython 9) each cell's stdout history. "
        + SENT_NOTE,
        "",
        "| stack | allocated at | B/answer | blocks/answer | code |",
        "|---|---|---:|---:|---|",
        *[line for key in sorted(tops) for line in tops[key]],
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(text))


def main() -> int:
    """Measure, print, write; 1 when the widget count is not flat or over the memory limit."""
    result = measure()
    print(json.dumps(result, indent=2))
    write(result)
    widgets = {(p["widgets"], p["comms"]) for p in result["points"]}
    g = per_answer(result)
    print(f"widgets/comms flat: {len(widgets) == 1}; beyond text and kernel: {g['net']:,.0f} B "
          f"per answer; dbchat_magic files beyond text: {g['ours']:,.0f} B per answer "
          f"(limit {LIMIT_BYTES:,})")
    return 0 if len(widgets) == 1 and g["net"] <= LIMIT_BYTES else 1


def rewrite(paths: list[str]) -> None:
    """Write the results table again from saved JSON outputs of earlier runs (no measuring)."""
    RESULTS.unlink(missing_ok=True)
    for path in paths:
        raw = Path(path).read_text()
        write(json.loads(raw[raw.index("{"):raw.rindex("}") + 1]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rewrite"]:
        rewrite(sys.argv[2:])
    else:
        sys.exit(main())
