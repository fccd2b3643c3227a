"""Sanitizer cost: model Markdown → safe HTML for 2 KB, 20 KB and 100 KB answers (issue 9).

The live view re-renders at most 10 times a second while an answer streams, so what matters
there is the cost of one tick (`markup.LiveMarkdown`: only the unfinished end is rendered again);
a settled answer is rendered whole once (`markup.markdown_html`). The ``.md`` export
(`markup.safe_markdown`) is timed too. Each stack (.venv: markdown-it-py 4, .venv-dbr:
markdown-it-py 2.2 as pinned by DBR 19 / serverless 6) gets its own rows.

Run: ``PYTHONPATH=$PWD/src .venv/bin/python bench/bench_markup.py``; writes
``bench/results/markup.md``. Exit status 1 when a 20 KB live tick costs over 5 ms (median).
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from dbchat_magic.markup import LiveMarkdown, markdown_html, safe_markdown
from dbchat_magic.markup._render import _parser, sanitize_html

SIZES = (2_000, 20_000, 100_000)
TICK_CHARS = 40  # ~100 tokens/s × 4 chars/token ÷ 10 renders/s
TARGET_TICK_MS = 5.0
RESULTS = Path(__file__).parent / "results" / "markup.md"
ROOT = Path(__file__).resolve().parents[1]
BLOCK = ("The **revenue** in *Q3* rose by 12% against `Q2`; see [the report](https://example.com)."
         " Regional numbers follow, with $r_t = r_{t-1}(1+g)$ as the model.\n\n"
         "| region | revenue | share |\n|:---|---:|---:|\n| EMEA | 1,200 | 40% |\n"
         "| APAC | 900 | 30% |\n\n- first point with `code`\n- second point\n\n"
         "```python\ndf.groupby('region')['revenue'].sum()\n```\n\n## Next section\n\n")


def answer(size: int) -> str:
    """A realistic answer of ``size`` characters."""
    return (BLOCK * (size // len(BLOCK) + 1))[:size]


def _median_ms(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _ticks(text: str) -> tuple[float, float]:
    """Median and p95 ms of one live render over the last 200 ticks of streaming ``text``."""
    live = LiveMarkdown()
    ends = list(range(TICK_CHARS, len(text) + 1, TICK_CHARS))
    for end in ends[:-200]:
        live.render(text[:end])
    times = []
    for end in ends[-200:]:
        start = time.perf_counter()
        live.render(text[:end])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def measure() -> dict[str, object]:
    """Every number for this interpreter's stack."""
    _parser()  # built once per process (≈ the first answer's cost), not counted per render
    rows = []
    for size in SIZES:
        text = answer(size)
        repeat = max(5, 200_000 // size)
        rendered = _parser().render(text)
        tick, tick95 = _ticks(text)
        rows.append({
            "size": size,
            "markdown_it": _median_ms(lambda t=text: _parser().render(t), repeat),
            "nh3": _median_ms(lambda r=rendered: sanitize_html(r), repeat),
            "whole": _median_ms(lambda t=text: markdown_html(t), repeat),
            "tick": tick, "tick95": tick95,
            "export": _median_ms(lambda t=text: safe_markdown(t), max(3, repeat // 4)),
        })
    return {"stack": Path(sys.prefix).name, "markdown-it-py": md.version("markdown-it-py"),
            "nh3": md.version("nh3"), "mdit-py-plugins": md.version("mdit-py-plugins"),
            "rows": rows}


def _other_stack() -> dict[str, object] | None:
    python = ROOT / ".venv-dbr" / "bin" / "python"
    if not python.exists() or Path(sys.prefix).name == ".venv-dbr":
        return None
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([str(python), __file__, "--json"], capture_output=True, text=True,
                         env=env, check=True)
    return dict(json.loads(out.stdout))


def table(result: dict[str, object]) -> list[str]:
    """Markdown rows for one stack."""
    lines = [f"**{result['stack']}**: markdown-it-py {result['markdown-it-py']}, mdit-py-plugins "
             f"{result['mdit-py-plugins']}, nh3 {result['nh3']}", "",
             "| answer | markdown-it (ms) | nh3 (ms) | whole render (ms) | live tick median / "
             "p95 (ms) | .md export (ms) |", "|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:  # type: ignore[attr-defined]
        lines.append(f"| {r['size'] // 1000} KB | {r['markdown_it']:.1f} | {r['nh3']:.1f} | "
                     f"{r['whole']:.1f} | {r['tick']:.2f} / {r['tick95']:.2f} | "
                     f"{r['export']:.1f} |")
    return [*lines, ""]


def main() -> int:
    """Measure, write bench/results/markup.md, print it; 1 when a target is missed."""
    if "--json" in sys.argv:
        print(json.dumps(measure()))
        return 0
    results = [measure()]
    other = _other_stack()
    if other is not None:
        results.append(other)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                .splitlines() if ln.startswith("model name")), "?")
    lines = ["## Sanitizer (bench/bench_markup.py)", "",
             f"`bench/bench_markup.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{cpu}, {os.cpu_count()} cores, load {load} (a shared machine: other jobs ran). "
             "Realistic answer text (prose, tables, lists, code, math); medians. "
             f"A live tick is one re-render while streaming ({TICK_CHARS} new characters per "
             "tick, the last 200 ticks of the answer): only the text after the last finished "
             "block is rendered again. A whole render happens once per settled answer.", ""]
    for result in results:
        lines += table(result)
    worst = max(r["tick"] for res in results for r in res["rows"]  # type: ignore[attr-defined]
                if r["size"] == 20_000)
    verdict = "met" if worst <= TARGET_TICK_MS else "MISSED"
    lines.append(f"Target: a 20 KB live tick ≤ {TARGET_TICK_MS:.0f} ms — {verdict} "
                 f"(worst median {worst:.2f} ms).")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if worst <= TARGET_TICK_MS else 1


if __name__ == "__main__":
    sys.exit(main())
