"""Client memory against hostile answers: a 200 MB SSE line, a 200 MB JSON body, a 200 MB error.

Run: ``PYTHONPATH=$PWD/src .venv/bin/python bench/bench_wire_memory.py [--quick] [--no-write]``.
The simulator runs in this process (its memory is not measured); each case runs the client in a
fresh subprocess that first asks one normal question (pool, imports, TLS context warm), then
resets its peak RSS (``/proc/self/clear_refs``) and asks the hostile question. Growth = peak RSS
during the hostile answer minus RSS before it. Target (issue 9): ≤ +40 MB with the default
limits (16 MiB). For contrast the same answers with the limits raised to 1 GiB (what an unbounded
client does). Writes ``bench/results/wire_memory.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from dbchat_magic.simulator import CLAUDE, LLAMA, Simulator

HERE = Path(__file__).parent
OUT = HERE / "results" / "wire_memory.md"
MB = 10**6
TARGET_MB = 40.0

CLIENT = r"""
import asyncio, json, sys, time
from dbchat_magic.client import ChatClient
from dbchat_magic.config import Settings

host, token, warm, hostile, limit = sys.argv[1:6]
limits = {} if limit == "default" else {"max_event_bytes": int(limit), "max_body_bytes": int(limit)}

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)

async def main():
    client = ChatClient(Settings(host=host, max_retries=0, total_timeout=600, **limits),
                        token=token)
    q = [{"role": "user", "content": "How are sales?"}]
    first = await client.complete(q, endpoint=warm)
    assert first.status == "completed", first.error
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak RSS to the current RSS
    t0 = time.perf_counter()
    r = await client.complete(q, endpoint=hostile)
    seconds = time.perf_counter() - t0
    peak = status("VmHWM")
    await client.aclose()
    print(json.dumps({"before": before, "peak": peak, "status": r.status, "error": r.error,
                      "text_chars": len(r.text), "seconds": seconds}))

asyncio.run(main())
"""


def run_case(sim: Simulator, fault: str, limit: str, src: str | None,
             **params: object) -> dict:
    """Inject ``fault`` for the hostile endpoint only, then run the client subprocess (with the
    package from ``src`` when given)."""
    sim.clear_faults()
    sim.inject(fault, endpoint=LLAMA, **params)
    cmd = [sys.executable, "-c", CLIENT, sim.url, sim.token or "", CLAUDE, LLAMA, limit]
    env = os.environ.copy()
    if src:
        env["PYTHONPATH"] = src
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    """Measure each case and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 MB answers, no 1 GiB contrast runs")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--baseline-src", metavar="DIR",
                    help="also run the client from this source tree (e.g. `git archive 7af5cdc "
                         "src` unpacked), labelled with --baseline-name")
    ap.add_argument("--baseline-name", default="main at 7af5cdc")
    args = ap.parse_args()
    size = 20 * MB if args.quick else 200 * MB
    cases = [  # name, fault, its parameters, also run with the limits raised
        ("SSE line without a newline", "huge_line", {"after": 3, "size": size, "end": False},
         True),
        ("SSE event: one line of that size", "huge_line", {"after": 3, "size": size}, False),
        ("JSON body (stream ignored)", "json_body", {"size": size}, True),
        ("JSON body served as text/plain", "json_body",
         {"size": size, "content_type": "text/plain"}, False),
        ("HTTP 500 error body", "huge_error", {"size": size}, False),
    ]
    rows, verdicts = [], []
    with Simulator() as sim:
        for name, fault, params, contrast in cases:
            runs = [("16 MiB (default)", "default", None)]
            if contrast and not args.quick:
                runs.append(("1 GiB (unbounded)", str(2**30), None))
            if args.baseline_src:
                runs.append((f"none ({args.baseline_name})", "default", args.baseline_src))
            for shown, limit, src in runs:
                got = run_case(sim, fault, limit, src, **params)
                growth = (got["peak"] - got["before"]) / MB
                rows.append(f"| {name} | {shown} | {got['status']} | {got['text_chars']:,} | "
                            f"{growth:+.1f} | {got['seconds']:.2f} |")
                if src is None and limit == "default":
                    verdicts.append((name, growth))
                print(rows[-1], "|", (got["error"] or "")[:90], flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "## Wire memory (hostile answers)",
        "",
        f"`bench/bench_wire_memory.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"{_cpu()}, {os.cpu_count()} cores, load {load}; "
        f"Python {platform.python_version()}. Answers of {size / MB:.0f} MB from the simulator "
        "over loopback; the client in a fresh subprocess, warmed by one normal question; growth "
        "= peak RSS during the hostile answer − RSS before it."
        + (f" Rows \"none ({args.baseline_name})\" ran the client from that source tree "
           "(`--baseline-src`), before the limits existed." if args.baseline_src else ""),
        "",
        "| answer | limit (max_event_bytes / max_body_bytes) | status | text chars kept | "
        "client RSS growth (MB) | seconds |",
        "|---|---|---|---:|---:|---:|",
        *rows,
        "",
        "| target | measured | result |",
        "|---|---|---|",
        *[f"| {name}: client RSS ≤ +{TARGET_MB:.0f} MB | {g:+.1f} MB | "
          f"{'PASS' if g <= TARGET_MB else 'FAIL'} |" for name, g in verdicts],
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        OUT.write_text(text)


if __name__ == "__main__":
    main()
