"""The small widget-schema checker gives the same errors as jsonschema (which the kernel no
longer imports: it cost 2–5 s on the first chart) for valid, broken and hostile specs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from dbchat_magic.specs._schema import WIDGET_SCHEMAS
from dbchat_magic.specs._schema_check import iter_errors
from dbchat_magic.specs._validate import MAX_ERRORS, _schema_message, schema_errors

BASES: list[dict[str, Any]] = [
    {"widget": "chart", "data": "sales", "mark": "bar", "x": {"field": "region", "type": "nominal"},
     "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}, "sort": "-y"},
    {"widget": "table", "data": "sales", "columns": ["region"], "limit": 5},
    {"widget": "kpi", "data": "sales", "field": "revenue", "aggregate": "sum", "format": ",.0f"},
    {"widget": "vega-lite", "data": "sales", "spec": {"mark": "bar"}},
]
BAD_VALUES: list[Any] = [None, True, False, 0, 1, 1.0, 1.5, -3, 10**9, "", "x", "1bad", "a b",
                         [], [1], ["a", "b"], {}, {"field": "f"}, {"maxbins": 500}, "x" * 300]


def _jsonschema_lines(spec: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(WIDGET_SCHEMAS[spec["widget"]])
    seen: list[str] = []
    for err in sorted(validator.iter_errors(spec),
                      key=lambda e: (len(e.path), list(map(str, e.path)))):
        line = "{}: {}".format(*_schema_message(err))
        if line not in seen:
            seen.append(line)
    return seen[:MAX_ERRORS]


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for base in BASES:
        cases.append(base)
        keys = [*base, "title", "filters", "extra", "limit", "color", "label", "sort"]
        for key in keys:
            if key == "widget":
                continue
            for value in BAD_VALUES:
                spec = copy.deepcopy(base)
                spec[key] = value
                cases.append(spec)
            spec = copy.deepcopy(base)
            spec.pop(key, None)
            cases.append(spec)
    chart = BASES[0]
    for ch in ("x", "y"):
        for sub in ("field", "type", "aggregate", "timeUnit", "bin", "title", "nope"):
            for value in BAD_VALUES:
                spec = copy.deepcopy(chart)
                spec[ch][sub] = value
                cases.append(spec)
    for value in BAD_VALUES:
        for fkey in ("field", "op", "value", "x"):
            f: dict[str, Any] = {"field": "region", "op": "in", "value": ["EU"]}
            f[fkey] = value
            cases.append({**chart, "filters": [f]})
    cases.append({**chart, "filters": [{"field": "a", "op": "==", "value": 1}] * 11})
    cases.append({"widget": "kpi", "data": "s", "aggregate": "count"})
    cases.append({"widget": "kpi", "data": "s", "aggregate": "mean"})
    return cases


CASES = _cases()


def test_the_corpus_is_broad():
    assert len(CASES) > 700
    assert sum(bool(schema_errors(c)) for c in CASES) > 500


@pytest.mark.parametrize("chunk", range(8))
def test_same_errors_as_jsonschema(chunk):
    for spec in CASES[chunk::8]:
        assert schema_errors(spec) == _jsonschema_lines(spec), spec


def test_every_failed_keyword_matches_jsonschema():
    for spec in CASES:
        schema = WIDGET_SCHEMAS[spec["widget"]]
        ours = sorted((e.validator, list(e.absolute_path)) for e in iter_errors(spec, schema))
        theirs = sorted((e.validator, list(e.absolute_path))
                        for e in Draft202012Validator(schema).iter_errors(spec))
        assert ours == theirs, spec


def test_an_unknown_keyword_is_a_bug_not_a_pass():
    with pytest.raises(KeyError):
        list(iter_errors(1, {"multipleOf": 2}))
