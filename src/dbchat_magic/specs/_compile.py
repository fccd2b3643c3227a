"""Compile a validated chart spec: aggregate first, then build its Vega-Lite dict (no Altair)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dbchat_magic.specs import _vl_build as vb
from dbchat_magic.specs._frames import FrameInfo
from dbchat_magic.specs._plan import AggResult, Plan, chart_plan, parse_sort
from dbchat_magic.specs._records import embedded_bytes, to_inline_csv
from dbchat_magic.specs._validate import parses_as_dates
from dbchat_magic.specs.engines import run_plan

MAX_CATEGORIES = {"arc": 12}
DEFAULT_MAX_CATEGORIES = 100
_CATEGORICAL = ("nominal", "ordinal")
_AGG_WORDS = {"sum": "sum of", "mean": "mean of", "median": "median of", "min": "min of",
              "max": "max of", "distinct": "distinct"}


@dataclass(slots=True)
class CompiledChart:
    """A Vega-Lite dict with our data embedded, plus notes for the user and sizes for benchmarks."""

    vegalite: dict[str, Any]
    rows: int
    embedded_bytes: int
    notes: list[str] = field(default_factory=list)


class EmptyResult(ValueError):
    """The filters (or the frame) left no rows to show."""


def channel_title(ch: dict[str, Any]) -> str:
    if ch.get("title"):
        return str(ch["title"])
    agg = ch.get("aggregate")
    if agg == "count":
        return "count"
    return f"{_AGG_WORDS[agg]} {ch['field']}" if agg else str(ch["field"])


def _category_channel(spec: dict[str, Any], plan: Plan) -> tuple[str, str] | None:
    """(category output, value output) when the chart has one categorical key and one measure."""
    if len(plan.keys) != 1 or not plan.measures or spec["mark"] == "rect":
        return None
    for cat, val in (("x", "y"), ("y", "x")):
        ch = spec.get(cat) or {}
        if ch.get("type") in _CATEGORICAL and not ch.get("aggregate") and val in plan.outputs:
            return plan.outputs[cat], plan.outputs[val]
    return None


def _plan_for(spec: dict[str, Any], info: FrameInfo) -> tuple[Plan, tuple[str, str] | None, int]:
    date_text = {spec[c]["field"] for c in ("x", "y", "color")
                 if isinstance(spec.get(c), dict) and "field" in spec[c]
                 and (spec[c].get("type") == "temporal" or spec[c].get("timeUnit"))
                 and parses_as_dates(info, spec[c]["field"])}
    plan = chart_plan(spec, date_text)
    cat = _category_channel(spec, plan)
    top = MAX_CATEGORIES.get(spec["mark"], DEFAULT_MAX_CATEGORIES)
    if cat and not spec.get("limit"):
        if plan.sort is None and spec["mark"] != "boxplot":
            plan.sort = (cat[1], True)
        plan.limit = top
    return plan, cat, top


def _notes(res: AggResult, spec: dict[str, Any], cat: tuple[str, str] | None) -> list[str]:
    notes: list[str] = []
    total = f"{res.total:,}" if res.total is not None else "more"
    shown = len(res.frame)
    if res.sampled:
        notes.append(f"Showing a random sample of {shown:,} of {total} rows; aggregate or bin "
                     "(e.g. a timeUnit or \"bin\": true) to see all of them.")
    elif res.truncated and cat and not spec.get("limit"):
        notes.append(f"Showing the top {shown:,} of {total} categories; "
                     "add a filter to see others.")
    elif res.truncated:
        notes.append(f"Showing the first {shown:,} of {total} rows.")
    if res.bin_steps:
        steps = ", ".join(f"{k} in steps of {v:g}" for k, v in res.bin_steps.items())
        notes.append(f"Binned: {steps}")
    return notes


def _encoding(spec: dict[str, Any], plan: Plan, name: str,
              res: AggResult) -> tuple[dict[str, Any], str]:
    """The Vega-Lite channel for one spec channel and the output column it shows."""
    ch = spec[name]
    out = plan.outputs[name]
    if ch.get("aggregate") or any(m.out == out for m in plan.measures):
        typ = "quantitative"
    elif ch.get("timeUnit"):
        typ = "temporal"
    elif ch.get("bin"):
        typ = "quantitative"
    else:
        typ = ch.get("type", "nominal")
    kw: dict[str, Any] = {"field": out, "type": typ, "title": channel_title(ch)}
    if ch.get("bin") and out in res.bin_steps:
        kw["bin"] = "binned"
    return kw, out


def _sort_value(spec: dict[str, Any], plan: Plan, axis: str) -> str | None:
    parsed = parse_sort(spec, "y" if axis == "x" else "x")
    if parsed is None:
        return None
    key, desc = parsed
    for ch in ("x", "y"):
        if key == (spec.get(ch) or {}).get("field"):
            key = ch
    if key == axis:
        return "descending" if desc else "ascending"
    if key in ("x", "y"):
        return f"-{key}" if desc else key
    return None


def _tooltip(enc: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One tooltip entry per shown channel: data fields (Vega escapes them), never HTML."""
    tips: list[dict[str, Any]] = []
    for v in enc.values():
        tip: dict[str, Any] = {k: v[k] for k in ("field", "type", "title", "timeUnit") if k in v}
        fmt = (v.get("axis") or {}).get("format")
        if fmt:
            tip["type"], tip["format"] = "temporal", fmt
        tips.append(tip)
    return tips


def _axes(spec: dict[str, Any], enc: dict[str, dict[str, Any]], res: AggResult) -> None:
    """Readable axes: short category labels horizontal; month/quarter/year ticks per period."""
    for axis in ("x", "y") if spec["mark"] != "arc" else ():
        ch, e = spec.get(axis) or {}, enc.get(axis)
        if e is None:
            continue
        unit = ch.get("timeUnit")
        ticks = vb.time_axis(unit, int(res.frame[e["field"]].nunique()))
        if ticks and spec["mark"] in ("bar", "rect"):
            e.update(type="ordinal", timeUnit=vb.band_time_unit(unit),
                     axis={"format": ticks["format"], "labelAngle": 0, "labelOverlap": True})
        elif ticks:
            e.update(axis=ticks, scale={"padding": 14})
        elif axis == "x" and e["type"] in _CATEGORICAL:
            angle = vb.label_angle([str(v) for v in res.frame[e["field"]].unique()])
            if angle is not None:
                e["axis"] = {"labelAngle": angle}


def _boxplot(spec: dict[str, Any], enc: dict[str, dict[str, Any]],
             tooltip: list[dict[str, Any]]) -> dict[str, Any]:
    ytitle = channel_title({**spec["y"], "aggregate": None})
    tooltip = tooltip + [{"field": stat, "type": "quantitative", "title": f"{stat} {ytitle}"}
                         for stat in ("min", "q1", "median", "q3", "max")]
    shared: dict[str, Any] = {k: enc[k] for k in ("x", "color") if k in enc}
    shared["tooltip"] = tooltip

    def y(low: str, high: str) -> dict[str, Any]:
        return {"y": {"field": low, "type": "quantitative", "title": ytitle}, "y2": {"field": high}}

    return {"layer": [
        {"mark": {"type": "rule"}, "encoding": {**shared, **y("min", "max")}},
        {"mark": {"type": "bar", "size": 18}, "encoding": {**shared, **y("q1", "q3")}},
        {"mark": {"type": "tick", "color": "white", "size": 18},
         "encoding": {**shared, "y": {"field": "median", "type": "quantitative"}}},
    ]}


def _build(spec: dict[str, Any], plan: Plan, res: AggResult,
           data: dict[str, Any]) -> dict[str, Any]:
    """The Vega-Lite dict of a chart spec over its aggregated, inlined data."""
    enc: dict[str, dict[str, Any]] = {}
    outs: dict[str, str] = {}
    for name in ("x", "y", "color"):
        if isinstance(spec.get(name), dict) and name in plan.outputs:
            enc[name], outs[name] = _encoding(spec, plan, name, res)
    mark = spec["mark"]
    ytitle = channel_title({**spec["y"], "aggregate": None} if mark == "boxplot" else spec["y"])
    title = vb.default_title(spec, channel_title(spec["x"]), ytitle)
    _axes(spec, enc, res)
    tooltip = _tooltip(enc)
    if mark == "boxplot":
        return vb.with_schema(_boxplot(spec, enc, tooltip), data, title, mark)
    for axis in ("x", "y"):
        sort = _sort_value(spec, plan, axis)
        if sort and axis in enc and enc[axis]["type"] != "quantitative":
            enc[axis]["sort"] = sort
    for axis in ("x", "y"):
        if enc.get(axis, {}).get("bin") == "binned":
            enc[axis + "2"] = {"field": outs[axis] + "_end"}
    if mark == "arc":
        body = {"mark": {"type": "arc"}, "encoding": {
            "theta": {**enc["y"], "type": "quantitative"}, "color": enc["x"], "tooltip": tooltip}}
        return vb.with_schema(body, data, title, mark)
    if mark == "rect" and "color" not in enc:
        enc["color"] = {"field": plan.measures[0].out, "type": "quantitative", "title": "count"}
    marks: dict[str, dict[str, Any]] = {"line": {"type": "line", "point": len(res.frame) <= 60}}
    body = {"mark": marks.get(mark, {"type": mark}), "encoding": {**enc, "tooltip": tooltip}}
    return vb.with_schema(body, data, title, mark)


def compile_chart(spec: dict[str, Any], info: FrameInfo) -> CompiledChart:
    """Aggregate ``info``'s frame per ``spec`` and return the Vega-Lite dict (data ≤ 5,000 rows)."""
    plan, cat, _top = _plan_for(spec, info)
    res = run_plan(info, plan)
    if len(res.frame) == 0:
        raise EmptyResult(f"data: no rows left in {info.name}" +
                          (" after the filters" if spec.get("filters") else ""))
    df = res.frame
    for out, step in res.bin_steps.items():
        df[out + "_end"] = df[out] + step
    text, parse = to_inline_csv(df)
    vl = _build(spec, plan, res, {"values": text, "format": {"type": "csv", "parse": parse}})
    return CompiledChart(vl, len(df), embedded_bytes(text), _notes(res, spec, cat))
