"""Chart cost from big frames (DESIGN §6, issue 5): build time and embedded bytes.

Two charts — sum of a value by category (bar) and the daily mean of a value (line, one year of
timestamps, 365 points) — over pandas frames of 100k / 1M / 5M rows, built three ways:

- **dbchat**: our path (`specs.compile.compile_chart`): aggregate in pandas, embed the small
  result as inline CSV. Also timed with the SVG render (vl-convert) that the default renderer adds.
- **Altair default**: `alt.Chart(df)…to_dict()` with the row limit lifted inside a local
  `with alt.data_transformers.disable_max_rows():` (restored on exit); it embeds every row. Run in
  a subprocess with a timeout so the 5M-row case cannot exhaust memory.
- **VegaFusion**: `with alt.data_transformers.enable("vegafusion"): chart.to_dict(format="vega")`
  (pre-aggregates in Rust; only in .venv).

Run: ``.venv/bin/python bench/bench_charts.py [--altair-max-rows N]``; writes
``bench/results/charts.md``. Exit status 1 when our 5M-row charts take over 0.15 s or embed over
10 KB. ``--altair-max-rows 1000000`` skips Altair's default path above 1M rows (at 5M it runs
past the 240 s timeout and only loads the machine).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from dbchat_magic.specs import render_spec
from dbchat_magic.specs._compile import compile_chart
from dbchat_magic.specs._frames import describe_frame

SIZES = (100_000, 1_000_000, 5_000_000)
REPEAT = 5
TARGET_S, TARGET_BYTES = 0.15, 10_000
ALTAIR_TIMEOUT = 240
RESULTS = Path(__file__).parent / "results" / "charts.md"
SPECS = {
    "sum by category": {"widget": "chart", "data": "df", "mark": "bar",
                        "x": {"field": "category", "type": "nominal"},
                        "y": {"field": "value", "type": "quantitative", "aggregate": "sum"}},
    "daily mean": {"widget": "chart", "data": "df", "mark": "line",
                   "x": {"field": "ts", "type": "temporal", "timeUnit": "day"},
                   "y": {"field": "value", "type": "quantitative", "aggregate": "mean"}},
}


def frame(n: int) -> pd.DataFrame:
    """``n`` rows: an 8-value string category, a float value, timestamps over one year."""
    rng = np.random.default_rng(0)
    cats = np.array(["North", "South", "East", "West", "Central", "Online", "Retail", "Partner"])
    return pd.DataFrame({
        "category": pd.Series(cats[rng.integers(0, len(cats), n)], dtype="str"),
        "value": rng.random(n) * 100,
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), "s"),
    })


def altair_chart(df: pd.DataFrame, case: str) -> alt.Chart:
    """The same chart written the usual Altair way (aggregation left to Vega-Lite)."""
    if case == "sum by category":
        return alt.Chart(df).mark_bar().encode(x="category:N", y="sum(value):Q")
    return alt.Chart(df).mark_line().encode(x="yearmonthdate(ts):T", y="mean(value):Q")


def _inline_bytes(spec: dict[str, Any]) -> int:
    """Bytes of all inline data in a Vega or Vega-Lite dict (datasets and data[].values)."""
    total = sum(len(json.dumps(v, separators=(",", ":"))) for v in
                (spec.get("datasets") or {}).values())
    data = spec.get("data")
    for d in data if isinstance(data, list) else [data] if isinstance(data, dict) else []:
        if "values" in d:
            v = d["values"]
            total += len(v) if isinstance(v, str) else len(json.dumps(v, separators=(",", ":")))
    return total


def time_ours(df: pd.DataFrame, case: str) -> dict[str, float]:
    """Median build time and embedded bytes of our path (compile only, then with SVG)."""
    spec = SPECS[case]
    compile_chart(spec, describe_frame("df", df))  # warm up imports
    times, svg_times = [], []
    size = 0
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        compiled = compile_chart(spec, describe_frame("df", df))
        times.append(time.perf_counter() - t0)
        size = compiled.embedded_bytes
    for _ in range(3):
        t0 = time.perf_counter()
        rendered = render_spec(spec, {"df": df})
        svg_times.append(time.perf_counter() - t0)
        assert rendered.ok, rendered.errors
    return {"s": statistics.median(times), "worst": max(times), "bytes": size,
            "svg_s": statistics.median(svg_times)}


def time_vegafusion(df: pd.DataFrame, case: str) -> dict[str, float] | None:
    """Median time and inline bytes with the VegaFusion transformer (None when not installed)."""
    try:
        import vegafusion  # noqa: F401
    except ImportError:
        return None
    times, size = [], 0
    for _ in range(3):
        t0 = time.perf_counter()
        with alt.data_transformers.enable("vegafusion"):
            vega = altair_chart(df, case).to_dict(format="vega")
        times.append(time.perf_counter() - t0)
        size = _inline_bytes(vega)
    return {"s": statistics.median(times), "bytes": size}


def altair_default_child(n: int, case: str) -> None:
    """Subprocess body: one Altair default build with the row limit lifted locally."""
    df = frame(n)
    before = (alt.data_transformers.active, dict(alt.data_transformers.options))
    t0 = time.perf_counter()
    with alt.data_transformers.disable_max_rows():
        spec = altair_chart(df, case).to_dict()
    elapsed = time.perf_counter() - t0
    assert (alt.data_transformers.active, dict(alt.data_transformers.options)) == before
    print(json.dumps({"s": elapsed, "bytes": _inline_bytes(spec)}))


def time_altair_default(n: int, case: str) -> dict[str, Any]:
    """Run `altair_default_child` in a subprocess (timeout, so 5M rows cannot stall the bench)."""
    try:
        out = subprocess.run([sys.executable, __file__, "--altair-default", str(n), case],
                             capture_output=True, text=True, timeout=ALTAIR_TIMEOUT, check=True)
    except subprocess.TimeoutExpired:
        return {"error": f"> {ALTAIR_TIMEOUT} s (stopped)"}
    except subprocess.CalledProcessError as exc:
        return {"error": (exc.stderr.strip().splitlines() or ["failed"])[-1][:60]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def calibration_ms() -> float:
    """A fixed reference job (sum of 5M floats, best of 5) to show how loaded the machine was."""
    x = np.random.default_rng(1).random(5_000_000)
    best = min(_timed(x.sum) for _ in range(5))
    return best * 1000


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _kb(b: float) -> str:
    return f"{b / 1024:,.1f} KB" if b < 1024 * 1024 else f"{b / 1024 / 1024:,.1f} MB"


def main(altair_max_rows: int = SIZES[-1]) -> int:
    """Run every case and write the Markdown table; 1 when a 5M target is missed."""
    rows, ok = [], True
    load_before, calib_before = os.getloadavg()[0], calibration_ms()
    for n in SIZES:
        df = frame(n)
        for case in SPECS:
            ours = time_ours(df, case)
            vf = time_vegafusion(df, case)
            default = (time_altair_default(n, case) if n <= altair_max_rows else
                       {"error": f"not run (> {ALTAIR_TIMEOUT} s in earlier runs)"})
            if n == SIZES[-1] and (ours["s"] > TARGET_S or ours["bytes"] > TARGET_BYTES):
                ok = False
            rows.append((n, case, ours, vf, default))
            print(n, case, ours, vf, default, flush=True)
        del df
    load_after, calib_after = os.getloadavg()[0], calibration_ms()
    lines = [
        "## Charts from big frames (bench/bench_charts.py)",
        "",
        "Build time and embedded data per chart; ours is the median of 5 (worst in brackets), "
        "VegaFusion the median of 3, Altair default one run in a subprocess. Ours embeds the "
        "aggregated result as inline CSV; \"+ SVG\" adds the default offline render "
        "(vl-convert). Target for 5M rows: ≤ 0.15 s and ≤ 10 KB.",
        "",
        "| rows | chart | dbchat build | dbchat embedded | dbchat + SVG | Altair default "
        "(row limit lifted) | Altair embedded | VegaFusion | VegaFusion embedded |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, case, ours, vf, default in rows:
        d_time = default.get("error") or f"{default['s']:.2f} s"
        d_bytes = "–" if "error" in default else _kb(default["bytes"])
        vf_time = f"{vf['s']:.3f} s" if vf else "not installed"
        vf_bytes = _kb(vf["bytes"]) if vf else "–"
        lines.append(f"| {n:,} | {case} | {ours['s']:.3f} s ({ours['worst']:.3f}) | "
                     f"{_kb(ours['bytes'])} | {ours['svg_s']:.3f} s | {d_time} | {d_bytes} | "
                     f"{vf_time} | {vf_bytes} |")
    lines += [
        "",
        f"Machine load while running: 1-min load average {load_before:.1f} → {load_after:.1f} "
        f"on {os.cpu_count()} cores; reference job (sum of 5M floats, best of 5) "
        f"{calib_before:.1f} ms → {calib_after:.1f} ms. "
        "Compare the columns side by side: all ran under the same load.",
        "",
        "Result at 5M rows: " + "; ".join(
            f"{case} {o['s']:.3f} s ({'≤' if o['s'] <= TARGET_S else '>'} {TARGET_S} s), "
            f"{_kb(o['bytes'])} ({'≤' if o['bytes'] <= TARGET_BYTES else '>'} 10 KB)"
            for n, case, o, _vf, _d in rows if n == SIZES[-1]) + ".",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--altair-default":
        altair_default_child(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--altair-max-rows":
        sys.exit(main(int(sys.argv[2])))
    sys.exit(main())
