"""The polars engine: run a `Plan` natively (lazy), converting only the small result to pandas."""

from __future__ import annotations

from typing import Any

from dbchat_magic.specs._frames import FrameInfo
from dbchat_magic.specs._plan import TIME_BUCKETS, AggResult, Plan, filter_value, nice_step

_EVERY = {"year": "1y", "quarter": "1q", "month": "1mo", "week": "1w", "day": "1d", "hour": "1h"}
"""A time bucket's name → polars' ``dt.truncate`` interval."""


def _condition(pl: Any, f: dict[str, Any], is_date: bool) -> Any:
    col, op, value = pl.col(f["field"]), f["op"], filter_value(f["value"], is_date)
    if op == "==":
        return col == pl.lit(value)
    if op == "!=":
        return col != pl.lit(value)
    if op in (">", ">=", "<", "<="):
        v = pl.lit(value)
        return {">": col > v, ">=": col >= v, "<": col < v, "<=": col <= v}[op]
    if op == "in":
        return col.is_in(value)
    if op == "not in":
        return ~col.is_in(value)
    if op == "between":
        return col.is_between(pl.lit(value[0]), pl.lit(value[1]))
    return col.cast(pl.String).str.to_lowercase().str.contains(str(value).lower(), literal=True)


def _measure(pl: Any, m: Any) -> Any:
    if m.agg == "count":
        return pl.len().alias(m.out)
    col = pl.col(m.field)
    expr = {"sum": col.sum, "mean": col.mean, "median": col.median, "min": col.min,
            "max": col.max, "distinct": col.n_unique}.get(m.agg)
    if expr is not None:
        return expr().alias(m.out)
    return col.quantile(0.25 if m.agg == "q1" else 0.75, interpolation="linear").alias(m.out)


def _to_pandas(df: Any) -> Any:
    import pandas as pd

    return pd.DataFrame(df.to_dict(as_series=False), columns=df.columns)


def aggregate_polars(info: FrameInfo, plan: Plan) -> AggResult:
    """Filter/group/aggregate with polars expressions; sample raw rows down to ``plan.cap``."""
    import polars as pl

    lf = info.frame.lazy()
    date_cols = {c for c, k in info.columns.items() if k == "datetime"}
    for f in plan.filters:
        lf = lf.filter(_condition(pl, f, f["field"] in date_cols))
    limit = min(plan.limit or plan.cap, plan.cap)
    if not plan.measures:
        lf = lf.select([pl.col(c).alias(o) for o, c in plan.fields])
        if plan.sort:
            lf = lf.sort(plan.sort[0], descending=plan.sort[1], maintain_order=True)
        df = lf.collect()
        total = df.height
        if plan.sample and not plan.sort and total > plan.cap:
            return AggResult(_to_pandas(df.sample(n=plan.cap, seed=0)), total, sampled=True)
        return AggResult(_to_pandas(df.head(limit)), total, truncated=total > limit)
    steps: dict[str, float] = {}
    keys = []
    for k in plan.keys:
        col = pl.col(k.field)
        if k.time_unit:
            col = col.dt.truncate(_EVERY[TIME_BUCKETS[k.time_unit].name])
        elif k.maxbins:
            lo, hi = lf.select(col.min().alias("lo"), col.max().alias("hi")).collect().row(0)
            step = steps[k.out] = nice_step(float(lo or 0), float(hi or 0), k.maxbins)
            col = (col / step).floor() * step
        keys.append(col.alias(k.out))
    aggs = [_measure(pl, m) for m in plan.measures]
    if not keys:
        return AggResult(_to_pandas(lf.select(aggs).collect()), 1)
    out = lf.group_by(keys).agg(aggs).drop_nulls([k.out for k in plan.keys])
    if plan.sort:
        out = out.sort(plan.sort[0], descending=plan.sort[1])
    else:
        out = out.sort([k.out for k in plan.keys])
    df = out.collect()
    total = df.height
    return AggResult(_to_pandas(df.head(limit)), total, truncated=total > limit, bin_steps=steps)
