"""The Spark engine: filter and aggregate on the cluster, collect only the small result.

Works on classic and Spark Connect DataFrames alike: only public DataFrame and Column APIs.
"""

from __future__ import annotations

from typing import Any

from dbchat_magic.specs._frames import FrameInfo
from dbchat_magic.specs._plan import TIME_BUCKETS, AggResult, Plan, filter_value, nice_step


def _condition(F: Any, f: dict[str, Any], is_date: bool) -> Any:
    col, op, value = F.col(f["field"]), f["op"], filter_value(f["value"], is_date)
    if op == "==":
        return col == F.lit(value)
    if op == "!=":
        return col != F.lit(value)
    if op in (">", ">=", "<", "<="):
        return {">": col > value, ">=": col >= value, "<": col < value, "<=": col <= value}[op]
    if op == "in":
        return col.isin(value)
    if op == "not in":
        return ~col.isin(value)
    if op == "between":
        return col.between(value[0], value[1])
    return F.lower(col.cast("string")).contains(str(value).lower())


def _measure(F: Any, m: Any) -> Any:
    if m.agg == "count":
        return F.count(F.lit(1)).alias(m.out)
    col = F.col(m.field)
    fn = {"sum": F.sum, "mean": F.avg, "min": F.min, "max": F.max,
          "distinct": F.countDistinct}.get(m.agg)
    if fn is not None:
        return fn(col).alias(m.out)
    q = {"q1": 0.25, "median": 0.5, "q3": 0.75}[m.agg]
    return F.percentile_approx(col, q, 10000).alias(m.out)


def _functions(df: Any) -> Any:
    """The functions module that builds columns for ``df``'s kind (classic or Connect)."""
    if type(df).__module__.startswith("pyspark.sql.connect"):
        from pyspark.sql.connect import functions as F
    else:
        from pyspark.sql import functions as F  # type: ignore[no-redef]
    return F


def aggregate_spark(info: FrameInfo, plan: Plan) -> AggResult:
    """Push filters, keys, aggregates, sort and limit into Spark; collect at most cap+1 rows."""
    df = info.frame
    F = _functions(df)
    date_cols = {c for c, k in info.columns.items() if k == "datetime"}
    for f in plan.filters:
        df = df.filter(_condition(F, f, f["field"] in date_cols))
    limit = min(plan.limit or plan.cap, plan.cap)
    if not plan.measures:
        df = df.select(*[F.col(c).alias(o) for o, c in plan.fields])
        if plan.sort:
            df = df.orderBy(F.col(plan.sort[0]).desc() if plan.sort[1] else F.col(plan.sort[0]))
        elif plan.sample:
            total = df.count()
            if total > plan.cap:
                part = df.sample(fraction=min(1.0, 1.2 * plan.cap / total), seed=0)
                pdf = part.limit(plan.cap).toPandas()
                return AggResult(pdf, total, sampled=True)
        pdf = df.limit(limit + 1).toPandas()
        cut = len(pdf) > limit
        return AggResult(pdf.head(limit), None if cut else len(pdf), truncated=cut)
    steps: dict[str, float] = {}
    keys = []
    for k in plan.keys:
        col = F.col(k.field)
        if k.time_unit:
            col = F.date_trunc(TIME_BUCKETS[k.time_unit].name, col)  # Spark's names are the buckets
        elif k.maxbins:
            lo, hi = df.agg(F.min(col), F.max(col)).first()
            step = steps[k.out] = nice_step(float(lo or 0), float(hi or 0), k.maxbins)
            col = F.floor(col / F.lit(step)) * F.lit(step)
        keys.append(col.alias(k.out))
    aggs = [_measure(F, m) for m in plan.measures]
    out = df.groupBy(*keys).agg(*aggs) if keys else df.agg(*aggs)
    if keys:
        out = out.dropna(subset=[k.out for k in plan.keys])
    if plan.sort:
        out = out.orderBy(F.col(plan.sort[0]).desc() if plan.sort[1] else F.col(plan.sort[0]))
    elif keys:
        out = out.orderBy(*[k.out for k in plan.keys])
    pdf = out.limit(limit + 1).toPandas()
    cut = len(pdf) > limit
    return AggResult(pdf.head(limit), None if cut else len(pdf), truncated=cut, bin_steps=steps)
