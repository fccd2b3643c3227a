"""Validation order: schema → frame exists → columns exist (with suggestions) → dtypes fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbchat_magic.specs import SPEC_SCHEMA, SPEC_VERSION, format_rules, validate_spec
from engine_cases import chart


@pytest.fixture
def ns() -> dict:
    rng = np.random.default_rng(1)
    n = 500
    sales = pd.DataFrame({
        "region": rng.choice(["EU", "US", "APAC"], n),
        "revenue": rng.random(n) * 100,
        "units": rng.integers(1, 9, n),
        "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
        "day_text": [f"2024-02-{i % 28 + 1:02d}" for i in range(n)],
        "vip": rng.random(n) > 0.5,
    })
    return {"sales": sales, "prices": pd.Series([1.0, 2.0], name="price"), "n": 3}


def test_good_specs_have_no_errors(ns):
    assert validate_spec(chart(), ns) == []
    assert validate_spec(chart(version=SPEC_VERSION, sort="-y", limit=10, title="t",
                               filters=[{"field": "units", "op": ">", "value": 2}]), ns) == []
    assert validate_spec({"widget": "table", "data": "sales"}, ns) == []
    assert validate_spec({"widget": "kpi", "data": "sales", "aggregate": "count"}, ns) == []
    assert validate_spec({"widget": "kpi", "data": "prices", "field": "price",
                          "aggregate": "mean"}, ns) == []
    line = chart(mark="line", x={"field": "day_text", "type": "temporal", "timeUnit": "week"})
    assert validate_spec(line, ns) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ([1, 2], "spec: must be a JSON object"),
    ({"data": "sales"}, "widget: missing"),
    ({"widget": "map", "data": "sales"}, 'widget: "map" is not one of chart, table, kpi'),
    (chart(mark="pie"), 'mark: "pie" is not one of bar, line'),
    (chart(y={"field": "revenue", "type": "numeric"}), 'y.type: "numeric" is not one of'),
    (chart(x={"field": "region", "type": "nominal", "agg": "sum"}),
     'x: unknown key "agg"; did you mean "aggregate"?'),
    (chart(x={"type": "nominal"}), 'x: needs "field"'),
    (chart(limit=10**6), "limit: 1000000 breaks maximum 5000"),
    (chart(data="sales; import os"), "data: \"sales; import os\" is not a variable name"),
    ({"widget": "kpi", "data": "sales", "aggregate": "sum"}, 'spec: missing "field"'),
    ({"widget": "chart", "data": "sales", "mark": "bar"}, 'spec: missing "x"'),
])
def test_schema_errors_are_short_path_messages(ns, spec, expected):
    errors = validate_spec(spec, ns)
    assert errors and errors[0].startswith(expected), errors
    assert len(errors) <= 3 and all(len(e) < 140 for e in errors)


def test_at_most_three_errors(ns):
    spec = chart(mark="pie", x={"field": 1, "type": "x"}, y={"field": 2, "type": "y"},
                 color={"field": 3}, extra=1)
    assert len(validate_spec(spec, ns)) == 3


def test_missing_frame_lists_or_suggests_frames(ns):
    assert validate_spec(chart(data="sale"), ns) == [
        'data: no DataFrame named "sale"; did you mean "sales"?']
    err = validate_spec(chart(data="orders"), ns)[0]
    assert err == 'data: no DataFrame named "orders"; frames: prices, sales'
    assert validate_spec(chart(data="n"), ns) == ['data: "n" is a int, not a DataFrame']


def test_missing_columns_suggest_nearest_names(ns):
    errs = validate_spec(chart(x={"field": "regoin", "type": "nominal"},
                               filters=[{"field": "Units", "op": ">", "value": 1}]), ns)
    assert errs == ['x.field: no column "regoin" in sales; did you mean "region"?',
                    'filters[0].field: no column "Units" in sales; did you mean "units"?']
    err = validate_spec(chart(x={"field": "zzz", "type": "nominal"}), ns)[0]
    assert err.startswith('x.field: no column "zzz" in sales; columns: region, revenue')


@pytest.mark.parametrize(("kw", "expected"), [
    ({"y": {"field": "region", "type": "quantitative", "aggregate": "sum"}},
     'y.aggregate: "sum" needs a numeric column; "region" is'),
    ({"x": {"field": "region", "type": "quantitative"}},
     'x.type: "region" is {region}, not numeric; use "nominal"'),
    ({"x": {"field": "order_date", "type": "quantitative"}},
     'x.type: "order_date" is {order_date}, not numeric; use "temporal"'),
    ({"x": {"field": "units", "type": "temporal"}}, 'x.type: "units" is int64, not a date'),
    ({"x": {"field": "region", "type": "nominal", "timeUnit": "day"}},
     'x.timeUnit: "region" is'),
    ({"x": {"field": "region", "type": "nominal", "bin": True}}, 'x.bin: "region" is'),
    ({"filters": [{"field": "region", "op": "between", "value": 3}]},
     'filters[0].value: "between" needs [low, high]'),
    ({"filters": [{"field": "units", "op": "contains", "value": "3"}]},
     'filters[0].op: "contains" needs a text column'),
    ({"filters": [{"field": "units", "op": ">", "value": "many"}]},
     'filters[0].value: "many" is not a number'),
    ({"sort": "-profit"}, 'sort: "-profit" is not x, y, -x, -y or a charted field'),
    ({"mark": "boxplot"}, "y.aggregate: a boxplot summarises raw values"),
])
def test_dtype_and_semantic_errors(ns, kw, expected):
    for column, dtype in ns["sales"].dtypes.items():  # pandas 2 says object/ns, pandas 3 str/us
        expected = expected.replace("{" + column + "}", str(dtype))
    errors = validate_spec(chart(**kw), ns)
    assert errors and errors[0].startswith(expected.split("; ")[0]), errors
    assert expected in errors[0] or errors[0].startswith(expected)


def test_count_and_min_max_rules(ns):
    assert validate_spec(chart(y={"aggregate": "count", "type": "quantitative"}), ns) == []
    assert validate_spec(chart(y={"field": "region", "type": "quantitative",
                                  "aggregate": "distinct"}), ns) == []
    assert validate_spec(chart(y={"field": "order_date", "type": "temporal",
                                  "aggregate": "max"}), ns) == []


def test_table_sort_column_must_exist(ns):
    errs = validate_spec({"widget": "table", "data": "sales", "sort": "-revenu"}, ns)
    assert errs[0].startswith('sort: no column "revenu" in sales; did you mean "revenue"')


def test_format_rules_teach_the_schema_briefly():
    rules = format_rules()
    assert rules.count("```json\n{") == 2 and len(rules) < 2200
    for word in ("chart", "table", "kpi", "bar|line|area|point|arc|rect|boxplot", "timeUnit"):
        assert word in rules
    assert SPEC_SCHEMA["properties"]["widget"]["enum"] == ["chart", "table", "kpi", "vega-lite"]


def test_the_examples_in_the_rules_validate(ns):
    import json
    import re

    ns = {**ns, "prices": pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3),
                                        "price": [1.0, 2.0, 3.0]})}
    blocks = re.findall(r"```json\n(.*?)\n```", format_rules(), re.DOTALL)
    for block in blocks:
        assert validate_spec(json.loads(block), ns) == []
