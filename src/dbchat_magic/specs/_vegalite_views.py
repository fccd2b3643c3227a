"""The view level of the raw Vega-Lite allow-list: marks, transforms, views (unit, layer, concat,
facet, repeat), the top level and config. Channels, guides and predicates are in `vegalite_keys`."""

from __future__ import annotations

from typing import Any

from dbchat_magic.specs._allow import (
    EXPRESSIONS,
    Ctx,
    Enum,
    FieldRef,
    ListOf,
    Name,
    Null,
    Obj,
    One,
    Text,
    V,
    extend,
    is_expression_key,
    wrong_type,
)
from dbchat_magic.specs._vegalite_keys import (
    AGGREGATES,
    ALIGN,
    AXIS,
    BASELINE,
    BIN,
    BOOL,
    CHANNEL,
    CHANNELS,
    COLOR,
    DASH,
    ENCODING,
    FONT,
    FORMAT,
    HEADER,
    INT,
    LEGEND,
    MARKS,
    NUM,
    ORDER,
    PADDING,
    SCHEME,
    STEP,
    STYLE,
    SYMBOLS,
    TEXT,
    TIME_UNIT,
    TITLE,
    TITLE_PARAMS,
    WEIGHT,
    WINDOW_OPS,
    Predicate,
)

MAX_FOLD = 20
_SUBMARK = ("point", "line", "box", "median", "outliers", "rule", "ticks", "borders")
MARK_PROPS: dict[str, V] = {
    "color": COLOR, "fill": COLOR, "stroke": COLOR, "opacity": NUM, "fillOpacity": NUM,
    "strokeOpacity": NUM, "strokeWidth": NUM, "strokeDash": DASH, "strokeDashOffset": NUM,
    "strokeCap": Enum("butt", "round", "square"), "strokeJoin": Enum("miter", "round", "bevel"),
    "size": NUM, "tension": NUM, "orient": Enum("horizontal", "vertical"), "filled": BOOL,
    "interpolate": Enum("linear", "linear-closed", "step", "step-before", "step-after", "basis",
                        "basis-open", "basis-closed", "cardinal", "cardinal-open",
                        "cardinal-closed", "bundle", "monotone"),
    "shape": Enum(*SYMBOLS), "thickness": NUM, "binSpacing": NUM, "align": ALIGN,
    "baseline": BASELINE, "dx": NUM, "dy": NUM, "angle": NUM, "fontSize": NUM, "font": FONT,
    "fontWeight": WEIGHT, "fontStyle": STYLE, "text": One(TEXT, ListOf(TEXT, 10)), "limit": NUM,
    "lineHeight": NUM, "ellipsis": Text(10), "clip": BOOL, "aria": BOOL, "description": TEXT,
    "tooltip": One(BOOL, Null(), Obj({"content": Enum("encoding", "data")})),
    "invalid": Enum("filter", "break-paths-filter-domains", "break-paths-show-domains", "show",
                    None),
    "width": One(NUM, Obj({"band": NUM})), "height": One(NUM, Obj({"band": NUM})),
    "radius": NUM, "radius2": NUM, "innerRadius": NUM, "outerRadius": NUM, "padAngle": NUM,
    "theta": NUM,
    "theta2": NUM, "style": One(TEXT, ListOf(TEXT, 10)),
    "extent": One(NUM, Enum("min-max", "ci", "stderr", "stdev", "iqr")),
    "continuousBandSize": NUM, "discreteBandSize": NUM, "minBandSize": NUM,
    **{f"cornerRadius{c}": NUM for c in ("", "TopLeft", "TopRight", "BottomLeft", "BottomRight",
                                       "End")},
}
MARK_STYLE = Obj(MARK_PROPS | {k: One(BOOL, Enum("transparent"), Obj(MARK_PROPS))
                              for k in _SUBMARK})
MARK_DEF = extend(MARK_STYLE, type=Enum(*MARKS))


class MarkV(V):
    """A mark name or mark definition; image marks are refused by name."""

    label = "a mark name or mark object"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str | dict)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        kind = value.get("type") if isinstance(value, dict) else value
        if kind == "image":
            ctx.err(path, "image marks are not allowed")
        elif isinstance(value, str):
            Enum(*MARKS)(value, path, ctx)
        else:
            MARK_DEF(value, path, ctx)
            if "type" not in value:
                ctx.err(path, "a mark object needs \"type\"")


_AGG_DEF = Obj({"op": Enum(*AGGREGATES), "field": FieldRef(), "as": Name()})
_SORT_FIELD = Obj({"field": FieldRef(), "order": ORDER})
_GROUPBY = ListOf(FieldRef(), 20)
_NAMES = One(Name(), ListOf(Name(), 2))
_PAIR = ListOf(Name(), 2)
_EXTENT = ListOf(NUM, 2)
TRANSFORMS: dict[str, Obj] = {
    "filter": Obj({"filter": Predicate()}),
    "aggregate": Obj({"aggregate": ListOf(_AGG_DEF, 50), "groupby": _GROUPBY}),
    "bin": Obj({"bin": BIN, "field": FieldRef(), "as": _NAMES}),
    "timeUnit": Obj({"timeUnit": TIME_UNIT, "field": FieldRef(), "as": Name()}),
    "joinaggregate": Obj({"joinaggregate": ListOf(_AGG_DEF, 50), "groupby": _GROUPBY}),
    "window": Obj({"window": ListOf(Obj({"op": Enum(*WINDOW_OPS), "field": FieldRef(),
                                         "param": NUM, "as": Name()}), 20),
                   "frame": ListOf(One(INT, Null()), 2), "ignorePeers": BOOL, "groupby": _GROUPBY,
                   "sort": ListOf(_SORT_FIELD, 10)}),
    "stack": Obj({"stack": FieldRef(), "groupby": _GROUPBY, "sort": ListOf(_SORT_FIELD, 10),
                  "offset": Enum("zero", "center", "normalize"), "as": _NAMES}),
    "fold": Obj({"fold": ListOf(FieldRef(), MAX_FOLD), "as": _PAIR}),
    "sample": Obj({"sample": INT}),
    "regression": Obj({"regression": FieldRef(), "on": FieldRef(), "groupby": _GROUPBY,
                       "method": Enum("linear", "log", "exp", "pow", "quad", "poly"),
                       "order": INT, "extent": _EXTENT, "params": BOOL, "as": _PAIR}),
    "loess": Obj({"loess": FieldRef(), "on": FieldRef(), "groupby": _GROUPBY, "bandwidth": NUM,
                  "as": _PAIR}),
    "density": Obj({"density": FieldRef(), "groupby": _GROUPBY, "cumulative": BOOL, "counts": BOOL,
                    "bandwidth": NUM, "extent": _EXTENT, "minsteps": INT, "maxsteps": INT,
                    "steps": INT,
                    "as": _PAIR}),
}
_DEFAULT_OUTPUTS = {"fold": ("key", "value"), "density": ("value", "density")}


class Transform(V):
    """One of `TRANSFORMS`, told apart by its leading key."""

    label = "a transform object"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        kind = next((k for k in TRANSFORMS if k in value), None)
        if kind is not None:
            TRANSFORMS[kind](value, path, ctx)
            ctx.made.update(_DEFAULT_OUTPUTS.get(kind, ()))
            return
        carrier = next((k for k in value if is_expression_key(k)), None)
        if carrier is not None:
            ctx.err(f"{path}.{carrier}", EXPRESSIONS)
        elif value:
            ctx.err(f"{path}.{next(iter(value))}",
                    f"not an allowed transform; use {', '.join(TRANSFORMS)}")
        else:
            wrong_type(value, path, ctx, self.label)


_ROW_COLUMN = ("row", "column")
_RESOLVE_MODE = Obj({ch: Enum("shared", "independent") for ch in CHANNELS})
VIEW_BACKGROUND = Obj({"stroke": COLOR, "strokeWidth": NUM, "fill": COLOR, "fillOpacity": NUM,
                       "strokeOpacity": NUM, "cornerRadius": NUM, "opacity": NUM,
                       "strokeDash": DASH,
                       "style": One(TEXT, ListOf(TEXT, 10))})
SIZE = One(NUM, Enum("container"), STEP)
VIEW = Obj()
VIEW.keys.update({
    "mark": MarkV(), "encoding": ENCODING, "transform": ListOf(Transform(), 20),
    "layer": ListOf(VIEW, 100), "hconcat": ListOf(VIEW, 100), "vconcat": ListOf(VIEW, 100),
    "concat": ListOf(VIEW, 100), "spec": VIEW,
    "facet": extend(CHANNEL, row=CHANNEL, column=CHANNEL),
    "repeat": One(ListOf(FieldRef(), 100), Obj({k: ListOf(FieldRef(), 100)
                                                for k in (*_ROW_COLUMN, "layer")})),
    "resolve": Obj({k: _RESOLVE_MODE for k in ("scale", "axis", "legend")}),
    "title": TITLE, "width": SIZE, "height": SIZE, "description": TEXT, "name": Text(100),
    "columns": INT, "spacing": One(NUM, Obj({k: NUM for k in _ROW_COLUMN})),
    "align": One(Enum("all", "each", "none"), Obj({k: Enum("all", "each", "none")
                                                    for k in _ROW_COLUMN})),
    "bounds": Enum("full", "flush"), "center": One(BOOL, Obj({k: BOOL for k in _ROW_COLUMN})),
    "view": VIEW_BACKGROUND,
    "params": ListOf(Obj({"name": Text(100, r"[A-Za-z_][A-Za-z0-9_]*", "a parameter name"),
                          "value": One(NUM, TEXT, BOOL, Null())}), 10),
})
AUTOSIZE = One(Enum("pad", "fit", "fit-x", "fit-y", "none"),
               Obj({"type": Enum("pad", "fit", "fit-x", "fit-y", "none"),
                    "contains": Enum("content", "padding"), "resize": BOOL}))
_AXES = ("axis", "axisX", "axisY", "axisBand", "axisPoint", "axisDiscrete", "axisQuantitative",
         "axisTemporal", "axisTop", "axisBottom", "axisLeft", "axisRight")
_SCALE_CONFIG = ("bandPaddingInner", "bandPaddingOuter", "barBandPaddingInner",
                 "rectBandPaddingInner", "pointPadding", "continuousPadding", "maxBandSize",
                 "minBandSize", "maxFontSize", "minFontSize", "maxOpacity", "minOpacity",
                 "maxSize", "minSize", "maxStrokeWidth", "minStrokeWidth")
CONFIG = Obj({
    "view": extend(VIEW_BACKGROUND, continuousWidth=NUM, continuousHeight=NUM, step=NUM, clip=BOOL,
                   discreteWidth=One(NUM, STEP), discreteHeight=One(NUM, STEP)),
    **{k: AXIS for k in _AXES}, "legend": LEGEND, "title": TITLE_PARAMS,
    **{k: HEADER for k in ("header", "headerRow", "headerColumn", "headerFacet")},
    "mark": MARK_STYLE, **{m: MARK_STYLE for m in MARKS},
    "range": Obj({k: One(ListOf(One(NUM, TEXT), 50), Obj({"scheme": SCHEME, "count": INT,
                                                         "extent": _EXTENT}))
                  for k in ("category", "ordinal", "heatmap", "ramp", "diverging", "symbol")}),
    "background": COLOR, "padding": PADDING, "font": FONT, "autosize": AUTOSIZE,
    "numberFormat": FORMAT, "timeFormat": FORMAT, "normalizedNumberFormat": FORMAT,
    "countTitle": TEXT, "fieldTitle": Enum("verbal", "functional", "plain"),
    "concat": Obj({"spacing": NUM, "columns": INT}), "facet": Obj({"spacing": NUM, "columns": INT}),
    "scale": Obj({k: NUM for k in _SCALE_CONFIG} | {k: BOOL for k in ("clamp", "round", "zero",
                                                               "useUnaggregatedDomain")}),
    "aria": BOOL,
})
TOP = Obj({**VIEW.keys, "config": CONFIG, "autosize": AUTOSIZE, "background": COLOR,
           "padding": PADDING}, top=True)
