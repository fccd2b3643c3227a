"""`%load_ext dbchat_magic` time in fresh processes, against importing the heavy dependencies.

Writes bench/results/load.md. Target: ≤ 150 ms (DESIGN §6).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

RUNS = 7
LOAD = """
import time
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
t = time.perf_counter()
ip.run_line_magic("load_ext", "dbchat_magic")
dt = time.perf_counter() - t
heavy = sorted(m for m in ("httpx", "pandas", "ipywidgets", "altair", "databricks.sdk")
               if m in __import__("sys").modules)
print(dt * 1000, ",".join(heavy) or "-")
"""
HEAVY = """
import time
t = time.perf_counter()
import httpx, pandas, ipywidgets, altair  # noqa: E401
print((time.perf_counter() - t) * 1000)
"""


def _runs(code: str) -> tuple[list[float], str]:
    times, extra = [], ""
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        times.append(float(out[0]))
        extra = out[1] if len(out) > 1 else ""
    return times, extra


def main() -> None:
    """Measure and write the table."""
    load, heavy_loaded = _runs(LOAD)
    heavy, _ = _runs(HEAVY)
    med = statistics.median(load)
    rows = [
        "## `%load_ext dbchat_magic` (bench/bench_load.py)",
        "",
        f"Fresh process each run, {RUNS} runs; target ≤ 150 ms.",
        "",
        "| what | median ms | worst ms |",
        "|---|---:|---:|",
        f"| `%load_ext dbchat_magic` | {med:.1f} | {max(load):.1f} |",
        f"| for contrast: `import httpx, pandas, ipywidgets, altair` | "
        f"{statistics.median(heavy):.1f} | {max(heavy):.1f} |",
        "",
        f"Heavy modules imported by `%load_ext`: {heavy_loaded}. "
        f"Result: {'PASS' if med <= 150 else 'FAIL'} ({med / 150:.2f}× the target).",
    ]
    out = Path(__file__).parent / "results" / "load.md"
    out.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
