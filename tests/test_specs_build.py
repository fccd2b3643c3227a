"""The Vega-Lite builder (no Altair in the kernel path): titles, label angles, time ticks, width,
tooltips as data fields, validity against the Vega-Lite schema; the small widget-schema checker
against jsonschema; `result.charts` as Altair charts that display offline, with their data."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dbchat_magic.result import ChatResult
from dbchat_magic.specs import render_spec
from dbchat_magic.specs._records import csv_values
from dbchat_magic.specs._vl_build import (
    FIT_PATCH,
    FIT_WIDTH,
    MIN_FIT,
    NEUTRAL,
    STATIC_WIDTH,
    WIDTH,
    static_variant,
)
from engine_cases import chart

N = 20_000
MONTH = {"field": "ts", "type": "temporal", "timeUnit": "month"}
SUM = {"field": "revenue", "type": "quantitative", "aggregate": "sum"}


@pytest.fixture(scope="module")
def ns() -> dict:
    rng = np.random.default_rng(3)
    sales = pd.DataFrame({
        "region": rng.choice(["East", "West", "North", "South"], N),
        "revenue": rng.random(N) * 100,
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 730, N), "s"),
        "sku": [f"SKU-LONG-NAME-{i:05d}" for i in rng.integers(0, 50, N)],
    })
    return {"sales": sales}


def _vl(spec: dict, ns: dict) -> dict:
    r = render_spec(spec, ns, renderer="text")
    assert r.ok, r.errors
    assert r.vegalite is not None
    return r.vegalite


def test_title_is_the_spec_title_or_derived_from_the_fields(ns):
    assert _vl(chart(title="Revenue <b>by</b> region"), ns)["title"] == "Revenue <b>by</b> region"
    assert _vl(chart(), ns)["title"] == "sum of revenue by region"
    coloured = chart(mark="line", x=MONTH, y=SUM, color={"field": "region", "type": "nominal"})
    assert _vl(coloured, ns)["title"] == "sum of revenue by ts per region"


def test_short_nominal_labels_are_horizontal_long_ones_keep_the_default(ns):
    assert _vl(chart(), ns)["encoding"]["x"]["axis"] == {"labelAngle": 0}
    long = _vl(chart(x={"field": "sku", "type": "nominal"}), ns)
    assert "axis" not in long["encoding"]["x"]


@pytest.mark.parametrize(("unit", "interval", "fmt"), [
    ("month", "month", "%b %Y"), ("quarter", "month", "Q%q %Y"), ("year", "year", "%Y")])
def test_month_quarter_year_get_matching_ticks_and_padding(ns, unit, interval, fmt):
    x = _vl(chart(mark="line", x={**MONTH, "timeUnit": unit}, y=SUM), ns)["encoding"]["x"]
    periods = {"month": 24, "quarter": 8, "year": 2}[unit]
    step = {"month": 2, "quarter": 3, "year": 1}[unit]  # ≤ 12 ticks: 24 months → every 2nd
    assert x["axis"] == {"format": fmt, "tickCount": {"interval": interval, "step": step}}
    assert x["scale"] == {"padding": 14}  # the first and last points are not cut at the edge
    assert len(csv_values(_vl(chart(mark="line", x={**MONTH, "timeUnit": unit}, y=SUM),
                              ns)["data"])) == periods


def test_monthly_bars_get_one_band_per_month(ns):
    vl = _vl(chart(x=MONTH, y=SUM), ns)
    x = vl["encoding"]["x"]
    assert (x["type"], x["timeUnit"], x["axis"]["format"]) == ("ordinal", "yearmonth", "%b %Y")
    tip = vl["encoding"]["tooltip"][0]
    assert (tip["field"], tip["format"], tip["timeUnit"]) == ("ts", "%b %Y", "yearmonth")


def test_the_whole_chart_fits_its_width_and_the_image_is_neutral(ns):
    vl = _vl(chart(color={"field": "region", "type": "nominal"}), ns)
    assert vl["width"] == WIDTH and vl["autosize"] == {"type": "fit", "contains": "padding"}
    assert vl["config"]["background"] == "transparent"
    assert "color" not in json.dumps(vl["config"])  # colours: the front end's theme
    static = static_variant(vl)
    assert static["config"]["axis"]["labelColor"] == NEUTRAL
    assert static["config"]["title"]["color"] == NEUTRAL and static["width"] == STATIC_WIDTH
    assert "axis" not in vl["config"]  # the interactive dict itself is unchanged
    arc = _vl(chart(mark="arc"), ns)
    assert (arc["width"], arc["height"]) == (300, 300)


def test_tooltips_are_data_fields_never_markup(ns):
    for spec in (chart(), chart(mark="line", x=MONTH, y=SUM),
                 chart(mark="boxplot", y={"field": "revenue", "type": "quantitative"})):
        vl = _vl(spec, ns)
        views = vl.get("layer") or [vl]
        for view in views:
            for tip in view["encoding"]["tooltip"]:
                assert set(tip) <= {"field", "type", "title", "timeUnit", "format"}
        assert vl["usermeta"] == {"embedOptions": {"renderer": "svg", "actions": False,
                                                   "patch": FIT_PATCH}}
        assert "tooltip" not in json.dumps(vl.get("config"))


def _vegalite_schema() -> dict:
    import altair

    folder = resources.files(altair) / "vegalite" / "v6" / "schema"
    return json.loads((folder / "vega-lite-schema.json").read_text())


ALL_MARKS = [
    chart(), chart(mark="line", x=MONTH, y=SUM), chart(x={**MONTH, "timeUnit": "quarter"}, y=SUM),
    chart(mark="area", x={"field": "ts", "type": "temporal", "timeUnit": "day"},
          color={"field": "region", "type": "nominal"}),
    chart(mark="point", x={"field": "revenue", "type": "quantitative"},
          y={"field": "revenue", "type": "quantitative"}),
    chart(mark="arc"), chart(mark="rect", y={"field": "sku", "type": "nominal"}),
    chart(mark="boxplot", y={"field": "revenue", "type": "quantitative"}),
    chart(x={"field": "revenue", "type": "quantitative", "bin": True},
          y={"aggregate": "count", "type": "quantitative"}),
]


@pytest.mark.parametrize("spec", ALL_MARKS, ids=lambda s: s["mark"])
def test_builder_output_is_valid_vega_lite(ns, spec):
    from jsonschema import Draft7Validator

    validator = Draft7Validator(_vegalite_schema())
    vl = _vl(spec, ns)
    for variant in (vl, static_variant(vl)):
        errors = [e.message[:120] for e in validator.iter_errors(variant)]
        assert errors == [], errors


def _patched(vega: dict, patch: list[dict]) -> dict:
    """``vega`` after a JSON patch of "add" operations on top-level members (as vega-embed's
    fast-json-patch applies `FIT_PATCH`)."""
    out = dict(vega)
    for op in patch:
        assert op["op"] == "add" and op["path"].count("/") == 1, op
        out[op["path"][1:]] = op["value"]
    return out


@pytest.mark.parametrize("spec", ALL_MARKS, ids=lambda s: s["mark"])
def test_charts_take_the_output_area_width_and_fall_back_to_a_fixed_one(ns, spec):
    """Compiled to Vega (vl-convert, the worker's Vega-Lite), a fit-sized builder chart has no
    signals of its own, so `FIT_PATCH` replaces none; the patched width signal follows the
    container on resize and falls back to `WIDTH` when the container measures less than
    `MIN_FIT` (JupyterLab's inline-block root without `FIT_CSS`). No "container" width: it hangs
    JupyterLab 4.6's page when the root measures 0."""
    import vl_convert

    from dbchat_magic.specs._render_worker import VL_VERSION

    vl = _vl(spec, ns)
    assert vl["width"] != "container" and "container" not in json.dumps(vl.get("height"))
    patch = (vl.get("usermeta") or {}).get("embedOptions", {}).get("patch")
    if spec["mark"] == "arc":  # a square pie: no fit, no patch
        assert patch is None and vl["width"] == vl["height"]
        return
    assert vl["width"] == WIDTH and vl["autosize"] == {"type": "fit", "contains": "padding"}
    vega = vl_convert.vegalite_to_vega(vl, vl_version=VL_VERSION)
    assert vega.get("signals") is None, vega.get("signals")
    assert vega["width"] == WIDTH  # what a front end without the patch draws
    width = _patched(vega, patch)["signals"]
    assert width == [{"name": "width", "init": FIT_WIDTH,
                      "on": [{"events": "window:resize", "update": FIT_WIDTH}]}]
    assert f"containerSize()[0] >= {MIN_FIT} ?" in FIT_WIDTH and FIT_WIDTH.endswith(f": {WIDTH}")
    assert "usermeta" not in static_variant(vl)  # the image has a fixed width


def test_the_kernel_path_imports_neither_altair_nor_jsonschema():
    code = ("import sys, pandas as pd\nfrom dbchat_magic.specs import render_spec\n"
            "df = pd.DataFrame({'region': ['EU', 'US'], 'revenue': [1.0, 2.0]})\n"
            "spec = {'widget': 'chart', 'data': 'df', 'mark': 'bar', 'title': 'T',\n"
            "        'x': {'field': 'region', 'type': 'nominal'},\n"
            "        'y': {'field': 'revenue', 'type': 'quantitative', 'aggregate': 'sum'}}\n"
            "bad = render_spec({**spec, 'mark': 'pie'}, {'df': df})\n"
            "r = render_spec(spec, {'df': df}, renderer='vegalite')\n"
            "print(r.ok, bad.errors[0][:5], sorted(r.mimebundle)[0],\n"
            "      [m for m in ('altair', 'jsonschema') if m in sys.modules])\n")
    src = str(Path(__file__).resolve().parents[1] / "src")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}, timeout=300)
    ok, error, mimetype, imported = out.stdout.split("\n")[0].split(" ", 3)
    assert (ok, error, mimetype, imported) == ("True", "mark:", "application/vnd.vegalite.v5+json",
                                               "[]"), out.stdout


def test_result_charts_are_altair_charts_with_their_data(ns):
    import altair as alt

    specs = [render_spec(chart(), ns, renderer="text"),
             render_spec({"widget": "table", "data": "sales"}, ns),
             render_spec(chart(mark="boxplot", y={"field": "revenue", "type": "quantitative"}),
                         ns, renderer="text")]
    result = ChatResult(text="x", extras={"specs": specs})
    bar, box = result.charts
    assert isinstance(bar.chart, alt.Chart) and isinstance(box.chart, alt.LayerChart)
    want = ns["sales"].groupby("region")["revenue"].sum()
    assert dict(zip(bar.data["region"], bar.data["sum_revenue"], strict=True)) == pytest.approx(
        want.to_dict())
    assert bar.title == "sum of revenue by region" and "q1" in box.data.columns
    assert alt.renderers.active == "dbchat"
    bundle = alt.renderers.get()(bar.chart.to_dict())
    assert bundle["application/vnd.vegalite.v5+json"]["data"]["values"]  # inline, no URL
    assert "cdn.jsdelivr" not in json.dumps(bundle)
    assert "<svg" in bundle["image/svg+xml"]


def test_result_chart_dates_come_back_as_datetimes(ns):
    r = render_spec(chart(mark="line", x=MONTH, y=SUM), ns, renderer="text")
    data = ChatResult(extras={"specs": [r]}).charts[0].data
    assert str(data["ts"].dtype).startswith("datetime64") and len(data) == 24
