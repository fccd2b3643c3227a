"""One sales frame and the chart specs every engine test compares against pandas (Spark classic,
Spark Connect in a subprocess, polars)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

N = 20_000


def sales_frame() -> pd.DataFrame:
    """20,000 seeded rows: region, revenue, units, ts (20 days), sku (3,000 values)."""
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "region": rng.choice(["EU", "US", "APAC"], N),
        "revenue": rng.random(N) * 100,
        "units": rng.integers(1, 9, N).astype("int64"),
        "ts": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 20, N), "s")
               ).astype("datetime64[us]"),
        "sku": [f"S{i:04d}" for i in rng.integers(0, 3000, N)],
    })


SPECS: dict[str, dict[str, Any]] = {
    "bar_sum": {"widget": "chart", "data": "df", "mark": "bar",
                "x": {"field": "region", "type": "nominal"},
                "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}},
    "line_daily_mean": {"widget": "chart", "data": "df", "mark": "line",
                        "x": {"field": "ts", "type": "temporal", "timeUnit": "day"},
                        "y": {"field": "revenue", "type": "quantitative", "aggregate": "mean"},
                        "filters": [{"field": "ts", "op": "<", "value": "2024-01-10"},
                                    {"field": "region", "op": "!=", "value": "US"}]},
    "count_by_color": {"widget": "chart", "data": "df", "mark": "bar",
                       "x": {"field": "units", "type": "ordinal"},
                       "y": {"aggregate": "count", "type": "quantitative"},
                       "color": {"field": "region", "type": "nominal"}},
    "hist": {"widget": "chart", "data": "df", "mark": "bar",
             "x": {"field": "revenue", "type": "quantitative", "bin": True},
             "y": {"aggregate": "count", "type": "quantitative"}},
    "top_skus": {"widget": "chart", "data": "df", "mark": "bar",
                 "x": {"field": "sku", "type": "nominal"},
                 "y": {"field": "units", "type": "quantitative", "aggregate": "max"}},
    "month_distinct": {"widget": "chart", "data": "df", "mark": "line",
                       "x": {"field": "ts", "type": "temporal", "timeUnit": "week"},
                       "y": {"field": "sku", "type": "quantitative", "aggregate": "distinct"}},
}


def chart(**kw: Any) -> dict[str, Any]:
    """A valid bar chart of sum(revenue) by region over ``sales``; ``kw`` overrides its keys."""
    spec: dict[str, Any] = {"widget": "chart", "data": "sales", "mark": "bar",
                            "x": {"field": "region", "type": "nominal"},
                            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}
    spec.update(kw)
    return spec


def canon(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows in a comparable form: sorted, each as sorted (column, value) pairs, floats rounded."""
    return sorted(tuple(sorted((k, round(v, 6) if isinstance(v, float) else v)
                               for k, v in row.items())) for row in rows)
