"""The raw Vega-Lite escape hatch: what docs/design.md (trust) lists is rejected; our data is
injected."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from dbchat_magic.specs import render_spec, validate_spec
from dbchat_magic.specs._vegalite_guard import guard_errors


@pytest.fixture
def ns() -> dict:
    return {"sales": pd.DataFrame({"region": ["EU", "US", "EU"], "revenue": [1.0, 2.0, 4.0]})}


def vl(spec: dict) -> dict:
    return {"widget": "vega-lite", "data": "sales", "spec": spec}


SAFE = {"mark": "bar", "encoding": {"x": {"field": "region", "type": "nominal"},
                                    "y": {"aggregate": "sum", "field": "revenue"}}}


def test_safe_spec_renders_with_our_data(ns):
    r = render_spec(vl(SAFE), ns)
    assert r.kind == "vega-lite" and r.ok, r.errors
    assert r.vegalite["data"] == {"values": [{"region": "EU", "revenue": 1.0},
                                             {"region": "US", "revenue": 2.0},
                                             {"region": "EU", "revenue": 4.0}]}
    labels = re.findall(r'aria-label="region: (\w+); Sum of revenue: ([\d.]+)"',
                        r.mimebundle["image/svg+xml"])
    assert sorted(labels) == [("EU", "5"), ("US", "2")]


def test_a_model_schema_url_is_replaced_not_rejected(ns):
    spec = {"$schema": "https://evil.example/schema.json", **SAFE}
    r = render_spec(vl(spec), ns)
    assert r.ok, r.errors
    assert r.vegalite["$schema"] == "https://vega.github.io/schema/vega-lite/v5.json"


def test_transforms_with_object_predicates_are_allowed(ns):
    spec = {**SAFE, "transform": [{"filter": {"field": "region", "equal": "EU"}},
                                  {"aggregate": [{"op": "sum", "field": "revenue", "as": "t"}],
                                   "groupby": ["region"]}],
            "encoding": {"x": {"field": "region", "type": "nominal"},
                         "y": {"field": "t", "type": "quantitative"}}}
    assert validate_spec(vl(spec), ns) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({**SAFE, "data": {"url": "https://evil.example/x.csv"}}, "spec.data.url:"),
    ({**SAFE, "data": {"values": [{"region": "X"}]}}, "spec.data.values:"),
    ({**SAFE, "datasets": {"d": []}}, "spec.datasets:"),
    ({**SAFE, "usermeta": {"embedOptions": {}}}, "spec.usermeta:"),
    ({**SAFE, "encoding": {**SAFE["encoding"], "href": {"field": "region"}}},
     "spec.encoding.href:"),
    ({**SAFE, "encoding": {**SAFE["encoding"], "url": {"field": "region"}}}, "spec.encoding.url:"),
    ({**SAFE, "mark": "image"}, "spec.mark: image marks"),
    ({**SAFE, "mark": {"type": "image"}}, "spec.mark: image marks"),
    ({**SAFE, "mark": {"type": "bar", "href": "x"}}, "spec.mark.href:"),
    ({**SAFE, "transform": [{"filter": "datum.revenue > 1"}]}, "spec.transform[0].filter:"),
    ({**SAFE, "transform": [{"calculate": "random()", "as": "r"}]}, "spec.transform[0].calculate:"),
    ({**SAFE, "transform": [{"filter": {"expr": "1"}}]}, "spec.transform[0].filter.expr:"),
    ({**SAFE, "transform": [{"filter": {"field": "region", "equal": {"signal": "x"}}}]},
     "spec.transform[0].filter.equal.signal:"),
    ({**SAFE, "encoding": {"color": {"condition": {"test": "datum.x", "value": "red"}}}},
     "spec.encoding.color.condition.test:"),
    ({**SAFE, "params": [{"name": "p", "bind": {"input": "range"}}]}, "spec.params[0].bind:"),
    ({**SAFE, "params": [{"name": "p", "expr": "1"}]}, "spec.params[0].expr:"),
    ({**SAFE, "params": [{"name": "p", "select": "point", "on": "click"}]}, "spec.params[0].on:"),
    ({**SAFE, "layer": [{"mark": "bar", "data": {"url": "x.csv"}}]}, "spec.layer[0].data.url:"),
    ({**SAFE, "title": {"text": "https://evil.example"}}, "spec.title.text: URLs"),
    ({**SAFE, "description": "javascript:alert(1)"}, "spec.description: URLs"),
    ({**SAFE, "$ref": "#/x"}, "spec.$ref:"),
    ({**SAFE, "encoding": {"x": {"field": "regoin", "type": "nominal"}}},
     "spec: field 'regoin' is not a column of sales; did you mean 'region'?"),
    ({**SAFE, "signals": []}, "spec.signals: not an allowed top-level key"),
    ([1], "spec: [1] is not of type object"),
    ({**SAFE, "description": "x" * 30_000}, "spec: longer than 20,000 characters"),
])
def test_hostile_specs_are_rejected(ns, spec, expected):
    errors = validate_spec(vl(spec), ns)
    assert errors and any(e.startswith(expected) for e in errors), errors
    r = render_spec(vl(spec), ns)
    assert r.kind == "error" and r.vegalite is None
    assert "https://evil" not in json.dumps(r.mimebundle).replace("spec.data.url", "")


def test_guard_alone_lists_every_problem():
    errors = guard_errors({"data": {"url": "u"}, "mark": "image", "usermeta": {},
                           "encoding": {"href": {"field": "a"}}})
    assert len(errors) == 4
