"""Compilation and rendering: correct aggregated data, bounded embedding, offline renderers."""

from __future__ import annotations

import base64
import json
import re

import altair as alt
import numpy as np
import pandas as pd
import pytest

from dbchat_magic.specs import RENDERERS, RenderedSpec, render_spec
from dbchat_magic.specs._records import csv_values
from engine_cases import chart

N = 50_000


@pytest.fixture(scope="module")
def ns() -> dict:
    rng = np.random.default_rng(7)
    sales = pd.DataFrame({
        "region": rng.choice(["EU", "US", "APAC", "LATAM"], N),
        "revenue": rng.random(N) * 100,
        "units": rng.integers(1, 9, N),
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 30, N), "s"),
        "sku": [f"SKU-{i:05d}" for i in rng.integers(0, 10_000, N)],
    })
    people = pd.DataFrame({"name": ["<script>alert(1)</script>", "Bob", "Ann"],
                           "ltv": [10.0, 30.0, 20.0], "day": ["2024-03-01", "2024-03-02", "x"]})
    return {"sales": sales, "people": people}


def values(r: RenderedSpec) -> list[dict]:
    assert r.vegalite is not None
    return csv_values(r.vegalite["data"])


def test_bar_sum_by_category_embeds_only_the_aggregate(ns):
    r = render_spec(chart(sort="-y"), ns)
    assert r.kind == "chart" and r.ok and r.notes == []
    want = ns["sales"].groupby("region")["revenue"].sum()
    got = {v["region"]: v["sum_revenue"] for v in values(r)}
    assert got == pytest.approx(want.to_dict())
    assert r.vegalite["encoding"]["x"]["sort"] == "-y"
    svg = r.mimebundle["image/svg+xml"]
    bars = re.findall(r'aria-label="region: (\w+); sum of revenue: ([\d,.]+)"', svg)
    assert {b[0] for b in bars} == {"EU", "US", "APAC", "LATAM"}
    assert "sum of revenue by region" in r.mimebundle["text/plain"]


def test_line_daily_mean_truncates_dates(ns):
    spec = chart(mark="line", x={"field": "ts", "type": "temporal", "timeUnit": "day"},
                 y={"field": "revenue", "type": "quantitative", "aggregate": "mean"})
    r = render_spec(spec, ns)
    assert r.ok, r.errors
    want = ns["sales"].groupby(ns["sales"]["ts"].dt.floor("D"))["revenue"].mean()
    got = values(r)
    assert len(got) == len(want) == 30
    assert got[0]["ts"] == "2024-01-01"
    assert r.vegalite["data"]["format"]["parse"]["ts"] == "date:'%Y-%m-%d'"
    points = re.findall(r'aria-label="ts: ([^;]+); mean of revenue: ([\d.]+)"',
                        r.mimebundle["image/svg+xml"])
    assert points[0][0] == "Jan 01, 2024" and len({p[0] for p in points}) == 30
    assert [v["mean_revenue"] for v in got] == pytest.approx(want.to_list())


@pytest.mark.parametrize(("unit", "first"), [("month", "2024-01-01"), ("week", "2024-01-01"),
                                             ("year", "2024-01-01"), ("quarter", "2024-01-01")])
def test_time_units(ns, unit, first):
    spec = chart(mark="line", x={"field": "ts", "type": "temporal", "timeUnit": unit},
                 y={"aggregate": "count", "type": "quantitative"})
    r = render_spec(spec, ns)
    assert r.ok, r.errors
    assert values(r)[0]["ts"].startswith(first)
    assert sum(v["count"] for v in values(r)) == N


def test_text_dates_are_parsed_for_temporal_channels(ns):
    spec = {"widget": "chart", "data": "people", "mark": "point",
            "x": {"field": "day", "type": "temporal"},
            "y": {"field": "ltv", "type": "quantitative"}}
    r = render_spec(spec, ns)
    assert r.ok, r.errors


def test_other_marks_render(ns):
    specs = [
        chart(mark="arc", y={"field": "units", "type": "quantitative", "aggregate": "sum"}),
        chart(mark="area", x={"field": "ts", "type": "temporal", "timeUnit": "day"},
              color={"field": "region", "type": "nominal"}),
        chart(mark="rect", y={"field": "units", "type": "ordinal"}),
        chart(mark="boxplot", y={"field": "revenue", "type": "quantitative"}),
        chart(mark="bar", x={"field": "revenue", "type": "quantitative", "bin": {"maxbins": 10}},
              y={"aggregate": "count", "type": "quantitative"}),
    ]
    for spec in specs:
        r = render_spec(spec, ns)
        assert r.ok and "<svg" in r.mimebundle["image/svg+xml"], (spec["mark"], r.errors)
    box = render_spec(specs[3], ns)
    eu = next(v for v in values(box) if v["region"] == "EU")
    s = ns["sales"].loc[ns["sales"]["region"] == "EU", "revenue"]
    assert eu["median"] == pytest.approx(s.median()) and eu["q1"] == pytest.approx(s.quantile(.25))
    hist = render_spec(specs[4], ns)
    assert sum(v["count"] for v in values(hist)) == N
    assert hist.notes == ["Binned: revenue in steps of 10"]
    assert all(v["revenue_end"] - v["revenue"] == 10 for v in values(hist))


def test_raw_scatter_is_sampled_and_says_so(ns):
    spec = chart(mark="point", x={"field": "revenue", "type": "quantitative"},
                 y={"field": "units", "type": "quantitative"})
    r = render_spec(spec, ns, renderer="vegalite")
    assert len(values(r)) == 5000
    assert r.notes[0].startswith(f"Showing a random sample of 5,000 of {N:,} rows")


def test_ten_thousand_category_bars_are_cut_to_the_top_100(ns):
    r = render_spec(chart(x={"field": "sku", "type": "nominal"}), ns, renderer="vegalite")
    got = values(r)
    assert len(got) == 100
    sums = ns["sales"].groupby("sku")["revenue"].sum().sort_values(ascending=False)
    assert [v["sku"] for v in got] == sums.index[:100].to_list()
    total = ns["sales"]["sku"].nunique()
    assert r.notes == [f"Showing the top 100 of {total:,} categories; add a filter to see others."]


def test_filters_and_empty_results(ns):
    spec = chart(filters=[{"field": "region", "op": "in", "value": ["EU", "US"]},
                          {"field": "ts", "op": ">=", "value": "2024-01-15"}])
    r = render_spec(spec, ns)
    df = ns["sales"]
    kept = df[df.region.isin(["EU", "US"]) & (df.ts >= "2024-01-15")]
    want = kept.groupby("region").revenue.sum()
    assert {v["region"]: v["sum_revenue"] for v in values(r)} == pytest.approx(want.to_dict())
    empty = render_spec(chart(filters=[{"field": "units", "op": ">", "value": 100}]), ns)
    assert empty.kind == "error"
    assert empty.errors == ["data: no rows left in sales after the filters"]
    assert empty.mimebundle == {}
    assert empty._repr_mimebundle_()["text/plain"].startswith("Chart not shown:")


def test_table_sorts_limits_and_escapes(ns):
    r = render_spec({"widget": "table", "data": "people", "columns": ["name", "ltv"],
                     "sort": "-ltv", "limit": 2}, ns)
    assert r.kind == "table" and r.notes == ["Showing 2 of 3 rows."]
    assert r.mimebundle["text/plain"].splitlines()[2].split() == ["Bob", "30.0"]
    html = r.mimebundle["text/html"]
    assert "<script>" not in html
    r = render_spec({"widget": "table", "data": "people", "sort": "ltv"}, ns)
    assert "&lt;script&gt;" in r.mimebundle["text/html"]


def test_kpi_formats(ns):
    r = render_spec({"widget": "kpi", "data": "sales", "field": "revenue", "aggregate": "sum",
                     "label": "Revenue", "format": "$,.0f"}, ns)
    total = ns["sales"]["revenue"].sum()
    assert r.kind == "kpi" and r.mimebundle["text/plain"] == f"Revenue: ${total:,.0f}"
    r = render_spec({"widget": "kpi", "data": "sales", "aggregate": "count",
                     "filters": [{"field": "region", "op": "==", "value": "EU"}]}, ns)
    eu = int((ns["sales"]["region"] == "EU").sum())
    assert r.mimebundle["text/plain"] == f"Count rows: {eu:,}"
    r = render_spec({"widget": "kpi", "data": "people", "field": "ltv", "aggregate": "mean",
                     "format": ".1%"}, ns)
    assert r.mimebundle["text/plain"] == "Average ltv: 2000.0%"


@pytest.mark.parametrize("renderer", RENDERERS)
def test_every_renderer_is_offline(ns, renderer):
    r = render_spec(chart(), ns, renderer=renderer)
    assert r.ok
    text = json.dumps(r.mimebundle)
    assert "cdn.jsdelivr" not in text
    assert not re.search(r"<script[^>]+src\s*=", text, re.IGNORECASE)
    if renderer == "png":
        assert base64.b64decode(r.mimebundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    elif renderer == "html":
        assert "vegaEmbed(" in r.mimebundle["text/html"]
    elif renderer == "text":
        assert r.mimebundle["text/plain"].splitlines()[1].split() == ["region", "sum_revenue"]
        assert len(r.mimebundle) == 1
    elif renderer in ("vegalite", "vega"):
        spec = r.mimebundle["application/vnd.vegalite.v5+json"]
        assert spec["$schema"].endswith("/v5.json") and spec["data"]["values"].count("\n") == 5
    else:
        assert r.mimebundle["image/svg+xml"].lstrip().startswith("<svg")


def test_unknown_renderer_falls_back_to_svg_with_a_note(ns):
    r = render_spec(chart(), ns, renderer="canvas")
    assert "image/svg+xml" in r.mimebundle and "unknown chart_renderer" in r.notes[0]


def test_global_altair_settings_are_untouched(ns):
    before = (alt.data_transformers.active, dict(alt.data_transformers.options),
              alt.renderers.active, alt.theme.active)
    render_spec(chart(), ns)
    render_spec(chart(x={"field": "sku", "type": "nominal"}), ns)
    after = (alt.data_transformers.active, dict(alt.data_transformers.options),
             alt.renderers.active, alt.theme.active)
    assert before == after
    with pytest.raises(alt.MaxRowsError):
        alt.Chart(ns["sales"]).mark_point().encode(x="revenue").to_dict()


@pytest.mark.parametrize("bad", [
    None, "chart", [], {}, {"widget": "chart"},
    {"widget": "kpi", "data": "nope", "aggregate": "sum"},
    {"widget": "chart", "data": "sales", "mark": "bar", "x": {"field": "region"},
     "y": {"field": "revenue", "aggregate": "sum", "type": "quantitative"},
     "filters": [{"field": "region", "op": "in", "value": "EU"}]},
    {"widget": "table", "data": "sales", "columns": ["nope"]},
])
def test_bad_input_never_raises_and_is_short(ns, bad):
    r = render_spec(bad, ns)
    assert r.kind == "error" and 1 <= len(r.errors) <= 3
    assert all(len(e) < 160 and "Traceback" not in e for e in r.errors)
    assert r.mimebundle == {}
    assert r._repr_mimebundle_()["text/plain"].count("\n") == len(r.errors)


def test_every_chart_renderer_setting_is_supported():
    from dbchat_magic.config import CHART_RENDERERS

    assert set(CHART_RENDERERS) <= set(RENDERERS)
