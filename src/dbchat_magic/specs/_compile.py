"""Compile a validated chart spec: aggregate first, then build a small Altair chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def _encoding(alt: Any, spec: dict[str, Any], plan: Plan, name: str,
              res: AggResult) -> tuple[dict[str, Any], str]:
    """Altair channel kwargs for one spec channel and the output column it shows."""
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


def _build(alt: Any, spec: dict[str, Any], plan: Plan, res: AggResult,
           data: Any) -> Any:
    enc: dict[str, Any] = {}
    outs: dict[str, str] = {}
    for name in ("x", "y", "color"):
        if isinstance(spec.get(name), dict) and name in plan.outputs:
            enc[name], outs[name] = _encoding(alt, spec, plan, name, res)
    tooltip = [alt.Tooltip(field=v["field"], type=v["type"], title=v["title"])
               for v in enc.values()]
    mark = spec["mark"]
    size = {"width": 300, "height": 300} if mark == "arc" else {"width": 520, "height": 300}
    title = spec.get("title") or alt.Undefined
    base = alt.Chart(data, title=title).properties(**size)
    if mark == "boxplot":
        x = alt.X(**enc["x"]) if "x" in enc else alt.X()
        color = alt.Color(**enc["color"]) if "color" in enc else alt.Undefined
        ytitle = channel_title({**spec["y"], "aggregate": None})
        tooltip += [alt.Tooltip(f"{stat}:Q", title=f"{stat} {ytitle}")
                    for stat in ("min", "q1", "median", "q3", "max")]
        box = alt.Chart().encode(x=x, color=color, tooltip=tooltip)
        return alt.layer(
            box.mark_rule().encode(y=alt.Y("min:Q", title=ytitle), y2="max:Q"),
            box.mark_bar(size=18).encode(y=alt.Y("q1:Q", title=ytitle), y2="q3:Q"),
            box.mark_tick(color="white", size=18).encode(y="median:Q"),
            data=data, title=title,
        ).properties(**size)
    for axis in ("x", "y"):
        sort = _sort_value(spec, plan, axis)
        if sort and axis in enc and enc[axis]["type"] != "quantitative":
            enc[axis]["sort"] = sort
    for axis in ("x", "y"):
        if enc.get(axis, {}).get("bin") == "binned":
            enc[axis + "2"] = {"field": outs[axis] + "_end"}
    if mark == "arc":
        return base.mark_arc().encode(theta=alt.Theta(**{**enc["y"], "type": "quantitative"}),
                                      color=alt.Color(**enc["x"]), tooltip=tooltip)
    if mark == "rect" and "color" not in enc:
        count = plan.measures[0].out
        enc["color"] = {"field": count, "type": "quantitative", "title": "count"}
    chans = {"x": alt.X, "y": alt.Y, "color": alt.Color, "x2": alt.X2, "y2": alt.Y2}
    kwargs = {k: chans[k](**v) for k, v in enc.items()}
    marks = {"bar": base.mark_bar, "line": lambda: base.mark_line(point=len(res.frame) <= 60),
             "area": base.mark_area, "point": base.mark_point, "rect": base.mark_rect}
    return marks[mark]().encode(tooltip=tooltip, **kwargs)


def _inline_datasets(vl: dict[str, Any]) -> dict[str, Any]:
    """Put the data Altair hoisted into ``datasets`` back inline (one copy, at the top)."""
    datasets = vl.pop("datasets", None) or {}
    data = vl.get("data")
    if isinstance(data, dict) and data.get("name") in datasets:
        vl["data"] = {**{k: v for k, v in data.items() if k != "name"},
                      "values": datasets[data["name"]]}
    elif datasets:
        vl["datasets"] = datasets
    return vl


def compile_chart(spec: dict[str, Any], info: FrameInfo) -> CompiledChart:
    """Aggregate ``info``'s frame per ``spec`` and return the Vega-Lite dict (data ≤ 5,000 rows)."""
    import altair as alt

    plan, cat, _top = _plan_for(spec, info)
    res = run_plan(info, plan)
    if len(res.frame) == 0:
        raise EmptyResult(f"data: no rows left in {info.name}" +
                          (" after the filters" if spec.get("filters") else ""))
    df = res.frame
    for out, step in res.bin_steps.items():
        df[out + "_end"] = df[out] + step
    text, parse = to_inline_csv(df)
    data = alt.InlineData(values=text, format=alt.CsvDataFormat(type="csv", parse=parse))
    chart = _build(alt, spec, plan, res, data)
    vl = _inline_datasets(chart.to_dict())
    return CompiledChart(vl, len(df), embedded_bytes(text), _notes(res, spec, cat))
