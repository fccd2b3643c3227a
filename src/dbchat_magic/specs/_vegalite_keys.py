"""What a raw Vega-Lite spec may contain: the known-safe keys and value types at each level (views,
marks, encoding channels, a few transforms with predicate-object filters, axis/legend/scale/title/
header/config subsets). Numbers are bounded by `specs.caps`; no key here can hold an expression."""

from __future__ import annotations

from typing import Any

from dbchat_magic.specs._allow import (
    EXPRESSIONS,
    Bool,
    Ctx,
    Enum,
    FieldRef,
    ListOf,
    Null,
    Num,
    Obj,
    One,
    Refuse,
    Text,
    V,
    extend,
    wrong_type,
)
from dbchat_magic.specs._caps import MAX_BINS

MARKS = ("arc", "area", "bar", "circle", "line", "point", "rect", "rule", "square", "text", "tick",
         "trail", "boxplot", "errorband", "errorbar")
CHANNELS = ("x", "y", "x2", "y2", "xOffset", "yOffset", "color", "fill", "stroke", "opacity",
            "fillOpacity", "strokeOpacity", "strokeWidth", "strokeDash", "size", "shape", "angle",
            "theta", "theta2", "radius", "radius2", "text", "tooltip", "detail", "order", "row",
            "column", "facet", "xError", "xError2", "yError", "yError2", "description")
AGGREGATES = ("count", "valid", "missing", "distinct", "sum", "product", "mean", "average",
              "variance", "variancep", "stdev", "stdevp", "stderr", "median", "q1", "q3", "ci0",
              "ci1", "min", "max", "argmin", "argmax")
WINDOW_OPS = (*AGGREGATES, "row_number", "rank", "dense_rank", "percent_rank", "cume_dist",
              "ntile", "lag", "lead", "first_value", "last_value", "nth_value")
_UNIT = r"(year|quarter|month|week|dayofyear|day|date|hours|minutes|seconds|milliseconds)"
_INTERVALS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "year")
SYMBOLS = ("circle", "square", "cross", "diamond", "triangle-up", "triangle-down",
            "triangle-right", "triangle-left", "triangle", "stroke", "arrow", "wedge")
ALIGN = Enum("left", "center", "right")
BASELINE = Enum("top", "middle", "bottom", "alphabetic", "line-top", "line-bottom")
_ANCHOR = Enum("start", "middle", "end", None)
ORDER = Enum("ascending", "descending", None)

NUM, INT, BOOL = Num(), Num(integer=True), Bool()
TEXT = Text()
COLOR = One(Text(40, r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}|(rgb|rgba|hsl|hsla)\([-0-9.%,\s]+\)",
                 "a color"), Null())
FONT = Text(100, r"[\w\s,'\"-]+", "a font name")
FORMAT = Text(100)
WEIGHT = One(Enum("normal", "bold", "lighter", "bolder"), NUM)
STYLE = Enum("normal", "italic")
DASH = ListOf(NUM, 10)
TITLE_TEXT = One(TEXT, ListOf(TEXT, 10), Null())
TIME_UNIT = One(Text(60, rf"(binned)?(utc)?{_UNIT}+", "a time unit"),
                Obj({"unit": Text(60, rf"(binned)?(utc)?{_UNIT}+", "a time unit"), "step": INT,
                     "utc": BOOL, "maxbins": INT, "binned": BOOL}))
DATETIME = Obj({k: One(NUM, TEXT) for k in ("year", "quarter", "month", "date", "day", "hours",
                                           "minutes", "seconds", "milliseconds")} | {"utc": BOOL})
SCALAR = One(NUM, TEXT, BOOL, Null(), DATETIME)
STEP = Obj({"step": NUM, "for": Enum("position", "offset")})
SIZE = One(NUM, Enum("container"), STEP)
PADDING = One(NUM, Obj({k: NUM for k in ("top", "bottom", "left", "right")}))
BIN = One(BOOL, Enum("binned"), Obj({
    "maxbins": INT, "nice": BOOL, "extent": ListOf(NUM, 2), "anchor": NUM, "base": NUM,
    "binned": BOOL,
    **{k: Refuse(f"not allowed; use \"maxbins\" (at most {MAX_BINS})")
       for k in ("step", "steps", "minstep", "divide")}}))
SCHEME = One(Text(40, r"[A-Za-z0-9-]+", "a scheme name"),
             Obj({"name": Text(40, r"[A-Za-z0-9-]+", "a scheme name"), "extent": ListOf(NUM, 2),
                  "count": INT}))


def _with_prefix(prefix: str, keys: dict[str, V]) -> dict[str, V]:
    return {prefix + k[0].upper() + k[1:]: v for k, v in keys.items()}


_TEXT_STYLE = {"fontSize": NUM, "color": COLOR, "font": FONT, "fontWeight": WEIGHT,
               "fontStyle": STYLE, "opacity": NUM, "align": ALIGN, "baseline": BASELINE,
               "limit": NUM, "padding": NUM, "angle": NUM, "lineHeight": NUM, "offset": NUM,
               "anchor": _ANCHOR}
_LABEL = _with_prefix("label", _TEXT_STYLE) | {
    "labels": BOOL, "labelOverlap": One(BOOL, Enum("parity", "greedy")),
    "labelBound": One(BOOL, NUM),
    "labelFlush": One(BOOL, NUM), "labelFlushOffset": NUM, "labelSeparation": NUM,
    "labelOrient": Enum("top", "bottom", "left", "right")}
_TITLE_PART = _with_prefix("title", _TEXT_STYLE) | {
    "title": TITLE_TEXT, "titleX": NUM, "titleY": NUM, "titleOrient": Enum("top", "bottom", "left",
                                                                       "right")}
_COMMON_GUIDE = {"format": FORMAT, "formatType": Enum("number", "time", "utc"), "aria": BOOL,
                 "description": TEXT, "zindex": INT, "offset": NUM, "tickCount": One(INT, Enum(
                     *_INTERVALS), Obj({"interval": Enum(*_INTERVALS), "step": INT})),
                 "tickMinStep": NUM, "values": ListOf(One(NUM, TEXT, BOOL, DATETIME), 200)}
AXIS = Obj(_LABEL | _TITLE_PART | _COMMON_GUIDE | {
    "orient": Enum("top", "bottom", "left", "right"), "grid": BOOL, "gridColor": COLOR,
    "gridDash": DASH, "gridOpacity": NUM, "gridWidth": NUM, "domain": BOOL, "domainColor": COLOR,
    "domainDash": DASH, "domainOpacity": NUM, "domainWidth": NUM, "ticks": BOOL, "tickSize": NUM,
    "tickColor": COLOR, "tickDash": DASH, "tickOpacity": NUM, "tickWidth": NUM,
    "tickBand": Enum("center", "extent"), "tickExtra": BOOL, "tickOffset": NUM, "tickRound": BOOL,
    "position": NUM, "minExtent": NUM, "maxExtent": NUM, "translate": NUM, "bandPosition": NUM,
    "style": One(TEXT, ListOf(TEXT, 10))})
LEGEND = Obj(_LABEL | _TITLE_PART | _COMMON_GUIDE | {
    "orient": Enum("left", "right", "top", "bottom", "top-left", "top-right", "bottom-left",
                   "bottom-right", "none"),
    "direction": Enum("horizontal", "vertical"), "columns": INT, "columnPadding": NUM,
    "rowPadding": NUM, "symbolType": Enum(*SYMBOLS), "symbolSize": NUM, "symbolLimit": INT,
    "symbolStrokeWidth": NUM, "symbolFillColor": COLOR, "symbolStrokeColor": COLOR,
    "symbolOpacity": NUM, "symbolDash": DASH, "symbolOffset": NUM, "gradientLength": NUM,
    "gradientThickness": NUM, "gradientStrokeColor": COLOR, "gradientStrokeWidth": NUM,
    "gradientOpacity": NUM, "padding": NUM, "fillColor": COLOR, "strokeColor": COLOR,
    "cornerRadius": NUM, "legendX": NUM, "legendY": NUM, "type": Enum("symbol", "gradient"),
    "clipHeight": NUM, "gridAlign": Enum("all", "each", "none")})
HEADER = Obj(_LABEL | _TITLE_PART | {"format": FORMAT, "formatType": Enum("number", "time",
                                                                          "utc"),
                                     "orient": Enum("top", "bottom", "left", "right")})
TITLE_PARAMS = Obj(_TEXT_STYLE | _with_prefix("subtitle", _TEXT_STYLE) | {
    "text": One(TEXT, ListOf(TEXT, 10)), "subtitle": One(TEXT, ListOf(TEXT, 10)),
    "orient": Enum("top", "bottom", "left", "right", "none"), "dx": NUM, "dy": NUM,
    "frame": Enum("bounds", "group"), "subtitlePadding": NUM, "aria": BOOL, "zindex": INT})
TITLE = One(TEXT, ListOf(TEXT, 10), TITLE_PARAMS)
SCALE = Obj({
    "type": Enum("linear", "log", "pow", "sqrt", "symlog", "time", "utc", "ordinal", "band",
                 "point", "quantile", "quantize", "threshold", "bin-ordinal"),
    "domain": One(ListOf(One(NUM, TEXT, BOOL, Null(), DATETIME), 1000), Enum("unaggregated")),
    "domainMin": One(NUM, DATETIME), "domainMax": One(NUM, DATETIME), "domainMid": NUM,
    "range": One(ListOf(One(NUM, TEXT), 100), Enum("width", "height", "symbol", "category",
                                                 "ordinal", "ramp", "diverging", "heatmap")),
    "rangeMin": NUM, "rangeMax": NUM, "scheme": SCHEME, "reverse": BOOL, "zero": BOOL,
    "clamp": BOOL,
    "round": BOOL, "nice": One(BOOL, INT, Enum(*_INTERVALS)), "padding": NUM, "paddingInner": NUM,
    "paddingOuter": NUM, "exponent": NUM, "base": NUM, "constant": NUM, "align": NUM,
    "interpolate": Enum("rgb", "lab", "hcl", "hsl", "hsl-long", "hcl-long", "cubehelix",
                        "cubehelix-long")})
SORT = One(Text(20, r"-?[a-zA-Z0-9]+", "a sort order"), Null(), ListOf(SCALAR, 1000),
           Obj({"field": FieldRef(), "op": Enum(*AGGREGATES), "order": ORDER,
                "encoding": Enum(*CHANNELS)}))
_CHANNEL_KEYS: dict[str, V] = {
    "field": FieldRef(), "type": Enum("quantitative", "nominal", "ordinal", "temporal"),
    "aggregate": One(Enum(*AGGREGATES), Obj({"argmin": FieldRef(), "argmax": FieldRef()})),
    "bin": BIN, "timeUnit": TIME_UNIT, "title": TITLE_TEXT, "scale": One(SCALE, Null()),
    "axis": One(AXIS, Null()), "legend": One(LEGEND, Null()), "header": One(HEADER, Null()),
    "sort": SORT, "stack": One(BOOL, Null(), Enum("zero", "center", "normalize")),
    "format": FORMAT, "formatType": Enum("number", "time", "utc"),
    "value": One(NUM, TEXT, BOOL, Null(), DASH), "datum": SCALAR, "bandPosition": NUM,
    "spacing": NUM, "columns": INT, "align": Enum("all", "each", "none"), "center": BOOL,
    "bounds": Enum("full", "flush")}


class _ExpressionText(V):
    label = "an expression"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        ctx.err(path, EXPRESSIONS)


class Predicate(V):
    """A filter/test predicate: field predicates and not/and/or of them; strings are expressions."""

    label = "a predicate object"

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if isinstance(value, str):
            ctx.err(path, EXPRESSIONS)
        elif not isinstance(value, dict):
            wrong_type(value, path, ctx, self.label)
        elif "not" in value:
            Obj({"not": self})(value, path, ctx)
        elif "and" in value or "or" in value:
            members = One(ListOf(self, 50), _ExpressionText())
            Obj({"and": members, "or": members})(value, path, ctx)
        else:
            before = len(ctx.errs)
            FIELD_PREDICATE(value, path, ctx)
            if "field" not in value and len(ctx.errs) == before:
                ctx.err(path, "a predicate needs \"field\"")


_VALUE = One(NUM, TEXT, BOOL, DATETIME)
FIELD_PREDICATE = Obj({"field": FieldRef(), "timeUnit": TIME_UNIT, "equal": _VALUE, "lt": _VALUE,
                       "lte": _VALUE, "gt": _VALUE, "gte": _VALUE,
                       "range": ListOf(One(NUM, TEXT, Null(), DATETIME), 2),
                       "oneOf": ListOf(_VALUE, 1000), "valid": BOOL})
CHANNEL = Obj(_CHANNEL_KEYS)
CONDITION = Obj(_CHANNEL_KEYS | {"test": Predicate()})
CHANNEL = extend(CHANNEL, condition=One(CONDITION, ListOf(CONDITION, 5)))
ENCODING = Obj({ch: One(CHANNEL, ListOf(CHANNEL, 30), Null())
                if ch in ("tooltip", "detail", "order") else CHANNEL for ch in CHANNELS})
