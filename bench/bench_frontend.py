"""Frontend traffic of a streamed answer, counted from a real kernel's iopub messages.

A 2,000-token answer streams from the simulator (400 tok/s, so ~5 s) into a blocking ``%%dbchat``
cell (``-m 2400`` so the default max_tokens does not cut it). Every iopub message the kernel sends
while the cell runs is what a frontend receives; we count them, their bytes, and the answer view's
updates per second. For contrast the same answer is appended word by word to an ``Output`` widget
(the naive approach DESIGN §3 rules out).

Run: ``.venv/bin/python bench/bench_frontend.py`` (and with ``.venv-dbr``); writes
``bench/results/frontend.md`` with one row per venv run so far. Exit status 1 when the view sends
more than 10 updates/s.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import queue
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from dbchat_magic.magic._stop import ipykernel_version
from dbchat_magic.simulator import LLAMA, Simulator

TOKENS = 2000
RATE = 400.0
LIMIT_PER_S = 10.0
STOP_RUNS = 5
RESULTS = Path(__file__).parent / "results" / "frontend.md"
NAIVE = """\
import ipywidgets as w
from IPython.display import display
out = w.Output(); display(out)
for piece in _dbchat_last.text.split(" "):
    out.append_stdout(piece + " ")
"""


def _start_kernel(env: dict[str, str], workdir: Path) -> tuple[KernelManager, Any]:
    spec = workdir / "kernels" / "bench"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bench", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(workdir / "kernels")])
    km = KernelManager(kernel_name="bench", kernel_spec_manager=specs)
    km.start_kernel(env=env, cwd=str(workdir))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return km, kc


def _run(kc: Any, code: str, timeout: float = 120) -> list[tuple[float, dict[str, Any]]]:
    """Execute ``code``; every iopub message (with receive time) until the cell is idle."""
    msg_id = kc.execute(code)
    seen: list[tuple[float, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        seen.append((time.monotonic(), msg))
        if (msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            return seen
    raise TimeoutError(code[:40])


def _size(msg: dict[str, Any]) -> int:
    return len(json.dumps(msg["content"], default=str)) + sum(len(b) for b in msg.get("buffers")
                                                              or ())


def _frontend(seen: list[tuple[float, dict[str, Any]]]) -> dict[str, float]:
    """Messages a frontend renders (everything but kernel status) and their rate."""
    shown = [(t, m) for t, m in seen if m["header"]["msg_type"] != "status"]
    updates = [(t, m) for t, m in shown if m["header"]["msg_type"] == "comm_msg"
               and m["content"]["data"].get("method") == "update"]
    span = max(seen[-1][0] - seen[0][0], 1e-6)
    return {"messages": len(shown), "bytes": sum(_size(m) for _, m in shown),
            "updates": len(updates), "seconds": span, "updates_per_s": len(updates) / span,
            "messages_per_s": len(shown) / span}


def _stopped_shown(msg: dict[str, Any]) -> bool:
    state = msg["content"].get("data", {}).get("state", {}) if msg["header"]["msg_type"] in (
        "comm_msg", "comm_open") else {}
    return "■ stopped" in str(state.get("value", ""))


def _answer_renders(seen: list[tuple[float, dict[str, Any]]]) -> int:
    return sum(1 for _, m in seen if m["header"]["msg_type"] == "comm_msg"
               and "outputs" in m["content"].get("data", {}).get("state", {}))


def stop_latency(km: KernelManager, kc: Any, sim: Simulator, how: str) -> dict[str, float]:
    """■ (kernel interrupt) or a Stop click mid-stream: ms until the connection is closed at the
    simulator, until the view shows "stopped", and until the cell has ended."""
    sim.set_pacing(tokens_per_second=20)
    sim.reset_stats()
    msg_id = kc.execute("%%dbchat -m 2400\nStop me mid-stream.")
    seen: list[tuple[float, dict[str, Any]]] = []
    button = None
    sent = shown = done = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and done is None:
        try:
            msg = kc.get_iopub_msg(timeout=0.01)
        except queue.Empty:
            msg = None
        now = time.monotonic()
        if msg is not None:
            seen.append((now, msg))
            state = msg["content"].get("data", {}).get("state", {})
            if msg["header"]["msg_type"] == "comm_open" and state.get("_model_name") == \
                    "ButtonModel":
                button = msg["content"]["comm_id"]
            if sent is not None and shown is None and _stopped_shown(msg):
                shown = now
            if (msg["header"]["msg_type"] == "status" and msg["parent_header"].get("msg_id")
                    == msg_id and msg["content"]["execution_state"] == "idle"):
                done = now
        if sent is None and _answer_renders(seen) >= 2:
            sent = time.monotonic()
            if how == "click" and button is not None:
                click = {"method": "custom", "content": {"event": "click"}}
                kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": button,
                                                                  "data": click}))
            else:
                km.interrupt_kernel()
    sim.set_pacing(tokens_per_second=None)
    if sent is None or done is None or not sim.stats.disconnects:
        raise RuntimeError(f"stop by {how} was not observed")
    closed = sim.stats.disconnects[0].at
    return {"closed_ms": (closed - sent) * 1000,
            "shown_ms": ((shown or done) - sent) * 1000, "cell_ms": (done - sent) * 1000}


def measure() -> dict[str, Any]:
    """Stream one answer through a kernel and count what reaches the frontend."""
    with Simulator(tokens_per_second=RATE, reply_tokens=TOKENS) as sim, \
            tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
        env.update(sim.env(), DBCHAT_CONFIG_DIR=tmp)
        km, kc = _start_kernel(env, Path(tmp))
        try:
            _run(kc, f"%load_ext dbchat_magic\n%dbchat use {LLAMA}")
            ask = f"%%dbchat -m {TOKENS + 400}\nWrite the long quarterly report."
            view = _frontend(_run(kc, ask))
            sim.set_pacing(tokens_per_second=None)
            naive = _frontend(_run(kc, NAIVE))
            check = _run(kc, "print(_dbchat_last.status, _dbchat_last.usage.completion_tokens, "
                             "len(_dbchat_last.text.split(' ')))")
            status = "".join(m["content"].get("text", "") for _, m in check
                             if m["header"]["msg_type"] == "stream").split()
            ways = ["interrupt"] + (["click"] if (ipykernel_version() or ()) >= (7, 4) else [])
            stops = {how: [stop_latency(km, kc, sim, how) for _ in range(STOP_RUNS)]
                     for how in ways}
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return {"view": view, "naive": naive, "status": status, "stops": stops,
            "stack": f"ipykernel {md.version('ipykernel')}, ipywidgets {md.version('ipywidgets')}"}


def _row(r: dict[str, Any]) -> str:
    v, n = r["view"], r["naive"]
    return (f"| {r['stack']} | {v['seconds']:.1f} s | {v['updates']} | {v['updates_per_s']:.1f} | "
            f"{v['messages']} | {v['bytes'] / 1024:.0f} KiB | {n['messages']} | "
            f"{n['bytes'] / 1024 / 1024:.1f} MiB |")


def _stop_rows(r: dict[str, Any]) -> list[str]:
    rows = []
    for how, runs in r["stops"].items():
        cells = []
        for key in ("closed_ms", "shown_ms", "cell_ms"):
            values = sorted(run[key] for run in runs)
            cells.append(f"{values[len(values) // 2]:.0f} / {values[-1]:.0f} ms")
        label = "■ kernel interrupt" if how == "interrupt" else "Stop button click"
        rows.append(f"| {r['stack']} · {label} | {len(runs)} | " + " | ".join(cells) + " |")
    return rows


def write(result: dict[str, Any]) -> None:
    """Add/replace this stack's rows in bench/results/frontend.md."""
    rows: dict[str, str] = {}
    stop_rows: dict[str, str] = {}
    if RESULTS.exists():
        for line in RESULTS.read_text().splitlines():
            if line.startswith("| ipykernel"):
                key = line.split("|")[1].strip()
                (stop_rows if "·" in key else rows)[key] = line
    rows[result["stack"]] = _row(result)
    for line in _stop_rows(result):
        stop_rows[line.split("|")[1].strip()] = line
    head = [
        "## Frontend traffic (goal: ≤ 10 updates/s)",
        "",
        f"A {TOKENS:,}-token answer at {RATE:.0f} tok/s from the simulator into a blocking "
        "`%%dbchat` cell of a real kernel; counted from every iopub message the kernel sent while "
        "the cell ran. *updates* = widget `comm_msg` state updates; *messages* = all non-status "
        "iopub messages. Naive = the same answer appended word by word (one "
        "`Output.append_stdout` per word, ~2,000 appends) after the stream.",
        "",
        "| stack | stream time | updates | updates/s | messages | bytes | naive messages | "
        "naive bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    stops = [
        "",
        "### Stop while streaming (goal: ≤ 150 ms to \"stopped\" shown)",
        "",
        "Measured from the moment ■ (`KernelManager.interrupt_kernel`) or a Stop click "
        "(`comm_msg` to the button) is sent, mid-stream at 20 tok/s; median / max of the runs. "
        "*closed* = the simulator sees the connection drop; *shown* = the view's status widget "
        "says stopped; *cell* = the cell has ended (kernel idle). The Stop button of a blocking "
        "cell exists only on ipykernel ≥ 7.4 (elsewhere the view says \"press ■ to stop\").",
        "",
        "| stack · how | runs | closed | shown | cell |",
        "|---|---|---|---|---|",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join([*head, *sorted(rows.values()), *stops,
                                  *sorted(stop_rows.values()), ""]))


def main() -> int:
    """Measure, print, write the results table; 1 when over the limit."""
    result = measure()
    print(json.dumps(result, indent=2))
    if result["status"][:2] != ["completed", str(TOKENS)]:
        print("the answer did not complete:", result["status"])
        return 1
    write(result)
    return 0 if result["view"]["updates_per_s"] <= LIMIT_PER_S else 1


if __name__ == "__main__":
    sys.exit(main())
