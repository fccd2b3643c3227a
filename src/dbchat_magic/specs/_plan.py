"""Turn a validated spec into a backend-neutral plan: keys, measures, filters, sort, limit."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dbchat_magic.specs._schema import MAX_LIMIT

ROW_CAP = MAX_LIMIT
"""Most rows ever embedded in a chart or shown in a table."""
TABLE_DEFAULT_LIMIT = 100
_CHANNELS = ("x", "y", "color")


class TimeBucket(NamedTuple):
    """What a spec's ``timeUnit`` groups by: the bucket's name (year, quarter, month, week, day,
    hour), the numpy datetime unit it is counted in and how many of those make one bucket."""

    name: str
    numpy_unit: str
    step: int


TIME_BUCKETS: dict[str, TimeBucket] = {
    "year": TimeBucket("year", "datetime64[Y]", 1),
    "quarter": TimeBucket("quarter", "datetime64[M]", 3),
    "month": TimeBucket("month", "datetime64[M]", 1),
    "yearmonth": TimeBucket("month", "datetime64[M]", 1),
    "week": TimeBucket("week", "datetime64[D]", 7),  # Monday-based (see `week_start`)
    "day": TimeBucket("day", "datetime64[D]", 1),
    "date": TimeBucket("day", "datetime64[D]", 1),
    "yearmonthdate": TimeBucket("day", "datetime64[D]", 1),
    "hour": TimeBucket("hour", "datetime64[h]", 1),
}
"""Every ``timeUnit`` a spec may name (`_schema.TIME_UNITS`) → its bucket; every engine groups by
these buckets in its own syntax."""


def week_start(days: Any) -> Any:
    """Days since 1970-01-01 → the day their Monday-based week starts (1970-01-01 was a
    Thursday); works on ints and numpy arrays."""
    return days - (days + 3) % 7


def filter_value(value: Any, is_date: bool) -> Any:
    """Coerce a filter value for a date column: ISO strings become datetimes (lists too)."""
    if isinstance(value, list):
        return [filter_value(v, is_date) for v in value]
    if is_date and isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
        except ValueError:
            return value
    return value


@dataclass(slots=True)
class Key:
    """A group-by key: a column, optionally truncated to a time unit or binned."""

    out: str
    field: str
    time_unit: str | None = None
    maxbins: int | None = None
    as_date: bool = False


@dataclass(slots=True)
class Measure:
    """An aggregate of a column (``field`` None for count); ``agg`` may be q1/q3 (boxplots)."""

    out: str
    field: str | None
    agg: str


@dataclass(slots=True)
class Plan:
    """What to compute. No measures means raw rows (``fields``: (output, column) pairs), capped."""

    filters: list[dict[str, Any]] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    sort: tuple[str, bool] | None = None
    limit: int | None = None
    cap: int = ROW_CAP
    sample: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    date_fields: set[str] = field(default_factory=set)


@dataclass(slots=True)
class AggResult:
    """A small pandas result plus what was left out (``total`` is None when unknown)."""

    frame: Any
    total: int | None
    truncated: bool = False
    sampled: bool = False
    bin_steps: dict[str, float] = field(default_factory=dict)


def _unique(name: str, taken: set[str]) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    taken.add(out)
    return out


def parse_sort(spec: dict[str, Any], default_key: str) -> tuple[str, bool] | None:
    """The spec's ``sort`` as (column or channel, descending); "ascending"/"descending" alone
    sort by ``default_key``. None when the spec has no sort."""
    sort = spec.get("sort")
    if not sort:
        return None
    desc = sort.startswith("-") or sort == "descending"
    key = sort.lstrip("-")
    if key in ("ascending", "descending"):
        key = default_key
    return key, desc


def _sort_target(spec: dict[str, Any], outputs: dict[str, str]) -> tuple[str, bool] | None:
    parsed = parse_sort(spec, "y")
    if parsed is None:
        return None
    key, desc = parsed
    if key in outputs:
        return outputs[key], desc
    for ch in _CHANNELS:
        if isinstance(spec.get(ch), dict) and spec[ch].get("field") == key and ch in outputs:
            return outputs[ch], desc
    return (key, desc) if spec["widget"] == "table" else None


def chart_plan(spec: dict[str, Any], date_text: set[str] | None = None) -> Plan:
    """Plan for a chart: channels with an aggregate are measures, the others group-by keys."""
    plan = Plan(filters=list(spec.get("filters", [])), limit=spec.get("limit"))
    plan.date_fields = set(date_text or ())
    taken: set[str] = set()
    channels = {c: spec[c] for c in _CHANNELS if isinstance(spec.get(c), dict)}
    grouping = any(ch.get("aggregate") or ch.get("bin") or ch.get("timeUnit")
                   for ch in channels.values()) or spec["mark"] == "rect"
    if spec["mark"] == "boxplot":
        y = channels.pop("y")
        for stat in ("min", "q1", "median", "q3", "max"):
            plan.measures.append(Measure(_unique(stat, taken), y["field"], stat))
        plan.outputs["y"] = "median"
        grouping = True
    explicit = any(ch.get("aggregate") for ch in channels.values())
    for name, ch in channels.items():
        col = ch.get("field")
        agg = ch.get("aggregate")
        if grouping and not agg and not explicit and ch.get("type") == "quantitative" \
                and not ch.get("bin") and spec["mark"] != "boxplot":
            agg = "mean"  # a time unit or bin without an aggregate: average the values
        if agg:
            base = "count" if agg == "count" else f"{agg}_{col}"
            out = _unique(base, taken)
            plan.measures.append(Measure(out, col if agg != "count" else None, agg))
        elif grouping:
            out = _unique(col, taken)
            bins = ch.get("bin")
            maxbins = (bins.get("maxbins", 20) if isinstance(bins, dict) else 20) if bins else None
            plan.keys.append(Key(out, col, ch.get("timeUnit"), maxbins,
                                 as_date=ch.get("type") == "temporal"))
        else:
            out = _unique(col, taken)
            plan.fields.append((out, col))
        plan.outputs[name] = out
    if plan.keys and not plan.measures:
        plan.measures.append(Measure(_unique("count", taken), None, "count"))
    plan.sample = not plan.measures
    plan.sort = _sort_target(spec, plan.outputs)
    return plan


def table_plan(spec: dict[str, Any], all_columns: list[str]) -> Plan:
    """Plan for a table: selected columns, filters, sort, and a limit (default 100 rows)."""
    cols = list(spec.get("columns") or all_columns[:50])
    plan = Plan(filters=list(spec.get("filters", [])), fields=[(c, c) for c in cols],
                limit=spec.get("limit", TABLE_DEFAULT_LIMIT))
    plan.outputs = {c: c for c in cols}
    plan.sort = _sort_target(spec, plan.outputs)
    if plan.sort and plan.sort[0] not in cols:
        plan.fields.append((plan.sort[0], plan.sort[0]))
    return plan


def kpi_plan(spec: dict[str, Any]) -> Plan:
    """Plan for a KPI: one measure over the filtered frame."""
    agg = spec["aggregate"]
    field_ = None if agg == "count" else spec.get("field")
    return Plan(filters=list(spec.get("filters", [])), measures=[Measure("value", field_, agg)])


def nice_step(lo: float, hi: float, maxbins: int) -> float:
    """A round bin width (1, 2 or 5 × 10^k) giving at most ``maxbins`` bins over [lo, hi]."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(span / maxbins))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= maxbins:
            return step * m
    return step * 10
