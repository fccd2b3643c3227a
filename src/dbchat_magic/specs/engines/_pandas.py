"""The pandas engine: filter, group and aggregate a pandas frame (one-key sum/mean/count through
`_fastagg`), returning a small result."""

from __future__ import annotations

from typing import Any

from dbchat_magic.specs._frames import FrameInfo
from dbchat_magic.specs._plan import (
    TIME_BUCKETS,
    AggResult,
    Plan,
    filter_value,
    nice_step,
    week_start,
)
from dbchat_magic.specs.engines import _fastagg as fastagg

_PANDAS_AGG = {"sum": "sum", "mean": "mean", "median": "median", "min": "min", "max": "max",
               "distinct": "nunique"}


def _as_datetime(series: Any) -> Any:
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series, errors="coerce", format="mixed")
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    return series


def truncate_dates(series: Any, unit: str) -> Any:
    """Floor datetimes to the start of ``unit`` (vectorised; quarter and week too)."""
    import numpy as np
    import pandas as pd

    values = _as_datetime(series).to_numpy()
    bucket = TIME_BUCKETS.get(unit)
    if bucket is None:
        out = values
    elif bucket.name == "week":
        days = values.astype(bucket.numpy_unit).astype("int64")
        out = week_start(days).astype(bucket.numpy_unit)
    elif bucket.step > 1:
        ints = values.astype(bucket.numpy_unit).astype("int64")
        out = (ints - ints % bucket.step).astype(bucket.numpy_unit)
    else:
        out = values.astype(bucket.numpy_unit)
    out = out.astype("datetime64[ns]")
    missing = np.isnat(values)
    if missing.any():
        out[missing] = np.datetime64("NaT")
    return pd.Series(out, index=series.index, name=series.name)


def _mask(df: Any, filters: list[dict[str, Any]], date_cols: set[str]) -> Any:
    import pandas as pd

    mask = pd.Series(True, index=df.index)
    for f in filters:
        col, op = df[f["field"]], f["op"]
        is_date = f["field"] in date_cols
        if is_date and not pd.api.types.is_datetime64_any_dtype(col.dtype):
            col = _as_datetime(col)
        value = filter_value(f["value"], is_date)
        if op == "==":
            m = col == value
        elif op == "!=":
            m = col != value
        elif op in (">", ">=", "<", "<="):
            m = {">": col.gt, ">=": col.ge, "<": col.lt, "<=": col.le}[op](value)
        elif op == "in":
            m = col.isin(value)
        elif op == "not in":
            m = ~col.isin(value)
        elif op == "between":
            m = col.between(value[0], value[1])
        else:
            m = col.astype("string").str.contains(str(value), case=False, regex=False)
        mask &= m.fillna(False).astype(bool)
    return mask


def _sort_limit(df: Any, plan: Plan, cap: int) -> tuple[Any, bool]:
    if plan.sort and plan.sort[0] in df.columns:
        df = df.sort_values(plan.sort[0], ascending=not plan.sort[1], kind="stable")
    limit = min(plan.limit or cap, cap)
    return (df.head(limit), len(df) > limit) if len(df) > limit else (df, False)


def aggregate_pandas(info: FrameInfo, plan: Plan) -> AggResult:
    """Filter, group and aggregate a pandas frame; raw rows are sampled down to ``plan.cap``."""
    import pandas as pd

    df = info.frame
    date_cols = {c for c, k in info.columns.items() if k == "datetime"} | plan.date_fields
    if plan.filters:
        df = df.loc[_mask(df, plan.filters, date_cols)]
    steps: dict[str, float] = {}
    if not plan.measures:
        sub = pd.DataFrame({out: df[col] for out, col in plan.fields})
        total = len(sub)
        if plan.sample and total > plan.cap and not plan.sort:
            sub = sub.sample(n=plan.cap, random_state=0).sort_index()
            return AggResult(sub.reset_index(drop=True), total, sampled=True)
        sub, cut = _sort_limit(sub, plan, plan.cap)
        return AggResult(sub.reset_index(drop=True), total, truncated=cut)
    keys: dict[str, Any] = {}
    fast = len(plan.keys) == 1 and fastagg.can_use({"k": None}, plan.measures)
    for k in plan.keys:
        s = df[k.field]
        if k.time_unit and fast:
            keys[k.out] = fastagg.TimeKey(_as_datetime(s).to_numpy(), k.time_unit)
            continue
        if k.time_unit:
            s = truncate_dates(s, k.time_unit)
        elif k.as_date and k.field in plan.date_fields:
            s = _as_datetime(s)
        elif k.maxbins:
            lo, hi = float(s.min()), float(s.max())
            step = steps[k.out] = nice_step(lo, hi, k.maxbins)
            s = (s // step) * step
        keys[k.out] = s.rename(k.out)
    if not keys:
        row = {m.out: _scalar(df, m) for m in plan.measures}
        return AggResult(pd.DataFrame([row]), 1, bin_steps=steps)
    if fastagg.can_use(keys, plan.measures):
        out = fastagg.group_aggregate(df, keys, plan.measures)
        total = len(out)
        out, cut = _sort_limit(out, plan, plan.cap)
        return AggResult(out.reset_index(drop=True), total, truncated=cut, bin_steps=steps)
    grouped = df.groupby(list(keys.values()), sort=True, observed=True, dropna=True)
    cols: dict[str, Any] = {}
    for m in plan.measures:
        if m.agg == "count":
            cols[m.out] = grouped.size()
        elif m.agg in ("q1", "q3"):
            cols[m.out] = grouped[m.field].quantile(0.25 if m.agg == "q1" else 0.75)
        else:
            cols[m.out] = grouped[m.field].agg(_PANDAS_AGG[m.agg])
    out = pd.DataFrame(cols).reset_index()
    total = len(out)
    out, cut = _sort_limit(out, plan, plan.cap)
    return AggResult(out.reset_index(drop=True), total, truncated=cut, bin_steps=steps)


def _scalar(df: Any, m: Any) -> Any:
    if m.agg == "count":
        return len(df)
    s = df[m.field]
    if m.agg in ("q1", "q3"):
        return s.quantile(0.25 if m.agg == "q1" else 0.75)
    return s.agg(_PANDAS_AGG[m.agg])
