"""Compare (issue 14): a 3-way ``--compare`` takes about as long as its slowest answer, not the sum.

Three simulator endpoints (Llama, Claude and gpt-oss styles) paced at 60 tokens/s with a 0.3 s
first token, 150-token answers (≈2.8 s each). Each endpoint is asked alone (one after another), then
all three at once through `prepare_compare` / `start_compare` (what ``%%dbchat --compare`` runs),
interleaved for ROUNDS rounds. While the compare streams, the main thread runs 5 ms sleeps and the
longest gap between them is kept: the kernel's own thread stays free.

Run: ``.venv/bin/python bench/bench_compare.py``; writes ``bench/results/compare.md``. Exit status 1
when the compare's median wall time exceeds the slowest single answer's by more than 25 %.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dbchat_magic.config import Settings
from dbchat_magic.conversation import Conversation
from dbchat_magic.session import AskOptions, Session, prepare_compare, start_compare
from dbchat_magic.simulator import CLAUDE, LLAMA, REASONING, Simulator

ROUNDS = 5
TARGETS = (LLAMA, CLAUDE, REASONING)
RESULTS = Path(__file__).parent / "results" / "compare.md"
SLACK = 1.25


def _single(session: Session, endpoint: str) -> float:
    start = time.perf_counter()
    prepared = session.prepare("Compare the regions", AskOptions(endpoint=endpoint), {})
    result = session.start(prepared, {}).wait(120)
    assert result.status == "completed", result.error
    return time.perf_counter() - start


def _compare(session: Session) -> tuple[float, float]:
    """Wall time of one 3-way compare, and the main thread's longest gap between 5 ms sleeps."""
    gaps: list[float] = []
    start = time.perf_counter()
    run = start_compare(session, prepare_compare(session, "Compare the regions", TARGETS,
                                                 AskOptions(), {}), {})
    last = time.perf_counter()
    while not run.done:
        time.sleep(0.005)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    result = run.finish()
    wall = time.perf_counter() - start
    assert [r.status for r in result] == ["completed"] * 3, [r.error for r in result]
    return wall, max(gaps, default=0.0)


def main() -> int:
    """Run the rounds, write the table, return the exit status."""
    with tempfile.TemporaryDirectory() as tmp, Simulator(tokens_per_second=60,
                                                         first_token_delay=0.3) as sim:
        os.environ.update(sim.env())
        os.environ["DBCHAT_CONFIG_DIR"] = tmp
        sim.reply_tokens = 150
        settings = Settings(endpoint=LLAMA, tracing="off")
        session = Session(Conversation("bench"), settings=lambda: settings)
        _single(session, LLAMA)  # warm: connection pool, imports
        singles: dict[str, list[float]] = {t: [] for t in TARGETS}
        walls: list[float] = []
        gaps: list[float] = []
        for _ in range(ROUNDS):
            for target in TARGETS:
                singles[target].append(_single(session, target))
            wall, gap = _compare(session)
            walls.append(wall)
            gaps.append(gap)
    medians = {t: statistics.median(v) for t, v in singles.items()}
    slowest, total = max(medians.values()), sum(medians.values())
    wall = statistics.median(walls)
    ok = wall <= slowest * SLACK
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "## Compare (bench/bench_compare.py)",
        "",
        f"`bench/bench_compare.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load}; "
        f"Python {sys.version.split()[0]}. Simulator in this process: 60 tokens/s, 0.3 s first "
        f"token, 150-token answers; median of {ROUNDS} interleaved rounds.",
        "",
        "| asked | median wall s | best | worst |",
        "|---|---:|---:|---:|",
        *[f"| {t} alone | {medians[t]:.2f} | {min(v):.2f} | {max(v):.2f} |"
          for t, v in singles.items()],
        f"| the three one after another (sum) | {total:.2f} | | |",
        f"| **3-way compare** | **{wall:.2f}** | {min(walls):.2f} | {max(walls):.2f} |",
        "",
        f"Compare / slowest single answer: {wall / slowest:.2f}× (target ≤ {SLACK:.2f}×); "
        f"compare / sum: {wall / total:.2f}×. Longest gap of the main thread between 5 ms sleeps "
        f"while the compare streamed: median {statistics.median(gaps) * 1000:.0f} ms, worst "
        f"{max(gaps) * 1000:.0f} ms (the answers stream on the runner's loop thread). Result: "
        f"{'MET' if ok else 'MISSED'}.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
