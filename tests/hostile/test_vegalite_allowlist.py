"""The raw Vega-Lite kind is an allow-list: every expression carrier, URL trick and unknown key is
rejected with one line naming its path; real charts (layers, facets, transforms, guides) pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbchat_magic.specs import render_spec, validate_spec
from dbchat_magic.specs._vegalite_guard import guard_errors, referenced_fields

X = {"field": "region", "type": "nominal"}
Y = {"field": "revenue", "type": "quantitative", "aggregate": "sum"}
BAR = {"mark": "bar", "encoding": {"x": X, "y": Y}}
EXPR = "expressions are not allowed"


def enc(**channels: dict) -> dict:
    return {**BAR, "encoding": {**BAR["encoding"], **channels}}


def vl(spec: dict) -> dict:
    return {"widget": "vega-lite", "data": "sales", "spec": spec}


@pytest.fixture(scope="module")
def ns() -> dict:
    rng = np.random.default_rng(5)
    n = 200
    return {"sales": pd.DataFrame({
        "region": rng.choice(["EU", "US", "APAC"], n), "revenue": rng.random(n) * 100,
        "units": rng.integers(1, 9, n), "cost": rng.random(n) * 50,
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D")})}


CARRIERS = [
    (enc(x={**X, "axis": {"labelExpr": "datum.label"}}), "spec.encoding.x.axis.labelExpr"),
    (enc(color={"field": "region", "legend": {"labelExpr": "'x'"}}),
     "spec.encoding.color.legend.labelExpr"),
    (enc(row={"field": "region", "header": {"labelExpr": "1"}}),
     "spec.encoding.row.header.labelExpr"),
    (enc(x={**X, "axis": {"titleExpr": "1"}}), "spec.encoding.x.axis.titleExpr"),
    ({**BAR, "config": {"axis": {"labelExpr": "1"}}}, "spec.config.axis.labelExpr"),
    ({**BAR, "transform": [{"filter": "datum.revenue > 1"}]}, "spec.transform[0].filter"),
    ({**BAR, "transform": [{"filter": {"not": "datum.x"}}]}, "spec.transform[0].filter.not"),
    ({**BAR, "transform": [{"filter": {"and": [{"field": "region", "equal": "EU"}, "datum.x"]}}]},
     "spec.transform[0].filter.and[1]"),
    ({**BAR, "transform": [{"filter": {"or": ["datum.x"]}}]}, "spec.transform[0].filter.or[0]"),
    ({**BAR, "transform": [{"filter": {"or": "datum.x"}}]}, "spec.transform[0].filter.or"),
    ({**BAR, "transform": [{"filter": {"not": {"and": [{"not": "1"}]}}}]},
     "spec.transform[0].filter.not.and[0].not"),
    ({**BAR, "transform": [{"filter": {"expr": "1"}}]}, "spec.transform[0].filter.expr"),
    ({**BAR, "transform": [{"filter": {"param": "brush"}}]}, "spec.transform[0].filter.param"),
    ({**BAR, "transform": [{"filter": {"field": "region", "equal": {"signal": "x"}}}]},
     "spec.transform[0].filter.equal.signal"),
    ({**BAR, "transform": [{"filter": {"field": "revenue", "range": [{"expr": "1"}, 2]}}]},
     "spec.transform[0].filter.range[0].expr"),
    ({**BAR, "transform": [{"calculate": "random()", "as": "r"}]},
     "spec.transform[0].calculate"),
    ({**BAR, "transform": [{"filter": {"field": "region", "valid": True}, "calculate": "1"}]},
     "spec.transform[0].calculate"),
    (enc(color={"condition": {"test": "datum.x", "value": "red"}, "value": "blue"}),
     "spec.encoding.color.condition.test"),
    (enc(color={"condition": {"test": {"or": ["datum.x > 1"]}, "value": "red"}}),
     "spec.encoding.color.condition.test.or[0]"),
    (enc(color={"condition": [{"test": {"not": "1"}, "value": "red"}]}),
     "spec.encoding.color.condition[0].test.not"),
    (enc(color={"condition": {"param": "p", "value": "red"}, "value": "blue"}),
     "spec.encoding.color.condition.param"),
    (enc(opacity={"value": {"expr": "0.5"}}), "spec.encoding.opacity.value.expr"),
    (enc(size={"value": {"signal": "s"}}), "spec.encoding.size.value.signal"),
    (enc(x={"field": {"expr": "'region'"}}), "spec.encoding.x.field.expr"),
    (enc(x={**X, "datum": {"expr": "1"}}), "spec.encoding.x.datum.expr"),
    (enc(x={**X, "scale": {"domain": {"param": "brush"}}}), "spec.encoding.x.scale.domain.param"),
    (enc(x={**X, "scale": {"domainMid": {"expr": "1"}}}), "spec.encoding.x.scale.domainMid.expr"),
    (enc(x={**X, "sort": {"field": "revenue", "op": {"expr": "1"}}}),
     "spec.encoding.x.sort.op.expr"),
    (enc(x={"field": "revenue", "bin": {"extent": {"param": "brush"}}}),
     "spec.encoding.x.bin.extent.param"),
    ({**BAR, "mark": {"type": "bar", "color": {"expr": "'red'"}}}, "spec.mark.color.expr"),
    ({**BAR, "mark": {"type": "bar", "tooltip": {"signal": "x"}}}, "spec.mark.tooltip.signal"),
    ({**BAR, "title": {"text": {"expr": "1"}}}, "spec.title.text.expr"),
    ({**BAR, "width": {"signal": "w"}}, "spec.width.signal"),
    ({**BAR, "params": [{"name": "p", "bind": {"input": "range"}}]}, "spec.params[0].bind"),
    ({**BAR, "params": [{"name": "p", "expr": "1"}]}, "spec.params[0].expr"),
    ({**BAR, "params": [{"name": "p", "select": "point", "on": "click"}]},
     "spec.params[0].select"),
    ({**BAR, "params": [{"name": "p", "update": "1"}]}, "spec.params[0].update"),
    ({**BAR, "selection": {"brush": {"type": "interval"}}}, "spec.selection"),
    ({"layer": [{**BAR, "params": [{"name": "b", "select": "interval"}]}]},
     "spec.layer[0].params[0].select"),
    ({**BAR, "encoding": {"x": X, "y": Y, "text": {"field": "region", "format": "x",
                                                    "formatType": {"expr": "1"}}}},
     "spec.encoding.text.formatType.expr"),
]


@pytest.mark.parametrize(("spec", "path"), CARRIERS, ids=[p for _, p in CARRIERS])
def test_every_expression_carrier_is_rejected_naming_its_path(ns, spec, path):
    errors = guard_errors(spec)
    assert f"{path}: {EXPR}" in errors, errors
    r = render_spec(vl(spec), ns)
    assert r.kind == "error" and r.vegalite is None and r.mimebundle == {}


URL_TRICKS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "  javascript:alert(1)", "java\tscript:x",
    "java\nscript:x", "&#106;avascript:x", "java&#x09;script:x", "javascript&colon;x",
    "vbscript:msgbox", "data:text/html,<script>", "DATA:image/svg+xml;base64,AA==",
    "https://evil.example/x", "HTTP://evil.example", "//evil.example/x", "\\\\evil\\share",
    "file:///etc/passwd", "blob:https://x", "\x00javascript:x",
]


@pytest.mark.parametrize("text", URL_TRICKS)
def test_url_tricks_in_any_text_are_rejected(text):
    for spec, path in (({**BAR, "title": text}, "spec.title"),
                       ({**BAR, "description": text}, "spec.description"),
                       (enc(x={**X, "axis": {"title": text}}), "spec.encoding.x.axis.title")):
        assert f"{path}: URLs are not allowed" in guard_errors(spec)


@pytest.mark.parametrize(("spec", "expected"), [
    ({**BAR, "data": {"url": "x.csv"}}, "spec.data.url: the data comes from the frame"),
    ({**BAR, "data": {"values": [{"region": "X"}]}}, "spec.data.values:"),
    ({**BAR, "data": {"sequence": {"start": 0, "stop": 1e9}}}, "spec.data: the data comes"),
    ({"layer": [{**BAR, "data": {"url": "x.csv"}}]}, "spec.layer[0].data.url:"),
    ({"facet": {"field": "region"}, "spec": {**BAR, "data": {"name": "d"}}}, "spec.spec.data:"),
    ({**BAR, "datasets": {"d": []}}, "spec.datasets: model-supplied datasets"),
    ({**BAR, "usermeta": {"embedOptions": {}}}, "spec.usermeta:"),
    ({**BAR, "config": {"loader": {"baseURL": "x"}}}, "spec.config.loader: loaders"),
    (enc(href={"field": "region"}), "spec.encoding.href: links are not allowed"),
    (enc(url={"field": "region"}), "spec.encoding.url: URLs are not allowed"),
    ({**BAR, "mark": {"type": "bar", "href": "https://x"}}, "spec.mark.href: links"),
    ({**BAR, "mark": "image"}, "spec.mark: image marks are not allowed"),
    ({**BAR, "mark": {"type": "image", "url": "x"}}, "spec.mark: image marks are not allowed"),
    ({"layer": [{**BAR, "mark": "image"}]}, "spec.layer[0].mark: image marks"),
    ({**BAR, "mark": "geoshape"}, "spec.mark: expected one of arc, area"),
    ({**BAR, "mark": {"type": "bar", "cursor": "url(x)"}}, "spec.mark.cursor: not an allowed key"),
    ({**BAR, "mark": {"type": "bar", "color": "url(#evil)"}}, "spec.mark.color: 'url(#evil)' is "
                                                             "not a color"),
    ({**BAR, "mark": {"type": "point", "shape": "M0,0L9,9"}}, "spec.mark.shape: expected one of"),
    ({**BAR, "transform": [{"lookup": "region", "from": {"data": {"url": "x"}}}]},
     "spec.transform[0].lookup: not an allowed transform"),
    ({**BAR, "transform": [{"impute": "revenue", "key": "ts", "keyvals": {"stop": 1e9}}]},
     "spec.transform[0].impute: not an allowed transform"),
    ({**BAR, "transform": [{"pivot": "region", "value": "revenue"}]},
     "spec.transform[0].pivot: not an allowed transform"),
    ({**BAR, "transform": [{"flatten": ["a"]}]}, "spec.transform[0].flatten: not an allowed"),
    ({**BAR, "transform": [{"quantile": "revenue", "step": 1e-9}]},
     "spec.transform[0].quantile: not an allowed"),
    ({**BAR, "config": {"customFormatTypes": True}}, "spec.config.customFormatTypes: not an "
                                                     "allowed key"),
    (enc(text={"field": "revenue", "formatType": "myFunction"}),
     "spec.encoding.text.formatType: expected one of number, time, utc"),
    ({**BAR, "projection": {"type": "mercator"}}, "spec.projection: not an allowed top-level"),
    ({**BAR, "signals": []}, "spec.signals: not an allowed top-level key"),
    ({**BAR, "$ref": "#/x"}, "spec.$ref: references are not allowed"),
    ({**BAR, "encoding": {"x": {**X, "axis": {"labelAngel": 45}}, "y": Y}},
     "spec.encoding.x.axis.labelAngel: not an allowed key; did you mean 'labelAngle'?"),
    ({**BAR, "encoding": {"x": {**X, "type": "geojson"}, "y": Y}},
     "spec.encoding.x.type: expected one of quantitative"),
    ({**BAR, "width": "100%"}, "spec.width: expected one of container"),
    ({**BAR, "transform": [{}]}, "spec.transform[0]: expected a transform object"),
    ({**BAR, "transform": [{"filter": {"equal": 3}}]}, "spec.transform[0].filter: a predicate "
                                                       "needs \"field\""),
])
def test_other_unsafe_or_unknown_content_is_rejected(spec, expected):
    errors = guard_errors(spec)
    assert any(e.startswith(expected) for e in errors), errors


LEGIT = [
    BAR,
    {**BAR, "title": {"text": "Revenue", "subtitle": "by region", "anchor": "start",
                      "fontSize": 16}, "width": 400, "height": 250},
    {"layer": [BAR, {"mark": {"type": "rule", "color": "#c33", "strokeDash": [4, 2]},
                     "encoding": {"y": {"aggregate": "mean", "field": "revenue"}}}]},
    {"mark": {"type": "point", "filled": True, "size": 60, "opacity": 0.7},
     "encoding": {"x": {"field": "revenue", "type": "quantitative",
                        "scale": {"zero": False, "nice": True}},
                  "y": {"field": "cost", "type": "quantitative", "axis": {"format": ",.0f",
                                                                          "tickCount": 5}},
                  "color": {"field": "region", "type": "nominal",
                            "scale": {"scheme": "tableau10"}, "legend": {"orient": "bottom"}},
                  "tooltip": [{"field": "region"}, {"field": "revenue", "format": ".1f"}]}},
    {"facet": {"field": "region", "type": "nominal", "header": {"labelFontSize": 12}},
     "columns": 3, "spec": {"mark": "bar", "encoding": {
         "x": {"field": "units", "type": "ordinal"}, "y": {"aggregate": "count"}}}},
    {"repeat": ["revenue", "cost"], "spec": {"mark": "bar", "encoding": {
        "x": {"field": {"repeat": "repeat"}, "bin": {"maxbins": 20}, "type": "quantitative"},
        "y": {"aggregate": "count"}}}},
    {"hconcat": [BAR, {"mark": "line", "encoding": {
        "x": {"field": "ts", "timeUnit": "yearmonthdate", "type": "temporal"},
        "y": {"aggregate": "mean", "field": "revenue"}}}]},
    {**BAR, "transform": [
        {"filter": {"and": [{"field": "region", "oneOf": ["EU", "US"]},
                            {"not": {"field": "revenue", "lt": 5}}]}},
        {"aggregate": [{"op": "sum", "field": "revenue", "as": "total"}], "groupby": ["region"]},
        {"window": [{"op": "rank", "as": "rank"}], "sort": [{"field": "total",
                                                            "order": "descending"}]}],
     "encoding": {"x": X, "y": {"field": "total", "type": "quantitative"},
                  "color": {"condition": {"test": {"field": "rank", "equal": 1},
                                          "value": "#d62728"}, "value": "#999"}}},
    {"transform": [{"fold": ["revenue", "cost"], "as": ["measure", "amount"]}],
     "mark": "bar", "encoding": {"x": {"field": "measure", "type": "nominal"},
                                 "y": {"field": "amount", "aggregate": "sum"},
                                 "xOffset": {"field": "region"}, "color": {"field": "region"}}},
    {"layer": [{"mark": "point", "encoding": {"x": {"field": "revenue", "type": "quantitative"},
                                              "y": {"field": "cost", "type": "quantitative"}}},
               {"mark": "line", "transform": [{"regression": "cost", "on": "revenue"}],
                "encoding": {"x": {"field": "revenue", "type": "quantitative"},
                             "y": {"field": "cost", "type": "quantitative"}}}]},
    {"transform": [{"density": "revenue", "groupby": ["region"], "steps": 100}],
     "mark": "area", "encoding": {"x": {"field": "value", "type": "quantitative"},
                                  "y": {"field": "density", "type": "quantitative"},
                                  "color": {"field": "region"}}},
    {"mark": {"type": "boxplot", "extent": "min-max"},
     "encoding": {"x": X, "y": {"field": "revenue", "type": "quantitative"}}},
    {"mark": {"type": "arc", "innerRadius": 40},
     "encoding": {"theta": {"aggregate": "sum", "field": "revenue"}, "color": X}},
    {**BAR, "config": {"view": {"stroke": None}, "axis": {"labelFontSize": 11, "grid": False},
                       "bar": {"color": "steelblue"}, "font": "Helvetica"},
     "background": "white", "padding": 8, "autosize": {"type": "fit", "contains": "padding"}},
]


@pytest.mark.parametrize("spec", LEGIT, ids=range(len(LEGIT)))
def test_real_charts_pass_and_render(ns, spec):
    assert validate_spec(vl(spec), ns) == []
    r = render_spec(vl(spec), ns)
    assert r.ok, r.errors
    assert r.mimebundle["image/svg+xml"].lstrip().startswith("<svg")


def test_referenced_fields_follow_repeats_transforms_and_predicates():
    fields, made = referenced_fields(LEGIT[7])
    assert fields == {"region", "revenue", "total", "rank"} and made == {"total", "rank"}
    fields, _ = referenced_fields(LEGIT[5])
    assert {"revenue", "cost"} <= fields


def test_a_repeated_field_must_be_a_column(ns):
    spec = {**LEGIT[5], "repeat": ["revenue", "cots"]}
    assert validate_spec(vl(spec), ns) == [
        "spec: field 'cots' is not a column of sales; did you mean 'cost'?"]


@pytest.mark.parametrize("title", ["Data: 2024 revenue", "File: q3 sales", "Revenue: EU vs US",
                                   "Note: http is not used here"])
def test_ordinary_titles_are_not_mistaken_for_urls(title):
    assert guard_errors({**BAR, "title": title}) == []
