"""Hostile strings and sizes on their way to the chart renderer: every non-XML character is cleaned
(the renderer used to abort the kernel on them) and every cap gives a one-line "path: message"."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest

from dbchat_magic.specs import render_spec, validate_spec
from dbchat_magic.specs._caps import (
    MAX_AREA,
    MAX_BINS,
    MAX_DATA_BYTES,
    MAX_DEPTH,
    MAX_PANELS,
    MAX_PIXELS,
    MAX_RENDER_CHARS,
    MAX_ROWS,
    MAX_VIEWS,
    cap_errors,
)
from dbchat_magic.specs._textclean import REPLACEMENT, clean_text, clean_tree

CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f", "\ud800", "\udfff",
            "\ufffe", "\uffff"]
"""One of each class XML 1.0 forbids: NUL, C0 controls (below and above tab/newline/CR, ESC),
lone surrogates (high and low) and the two non-characters U+FFFE/U+FFFF."""
IN_FRAMES = [c for c in CONTROLS if not 0xD800 <= ord(c) <= 0xDFFF]
"""The same without lone surrogates: pandas' Arrow strings refuse those while aggregating (a short
"data: could not compute" error, see below), so they never reach the renderer from a frame."""
KEPT = ["\t", "\n", "\r", "é", "€", "😀", "\x7f", "\x85", "\u2028", "\ufffd", "\U0010fffd"]


def chart(frame: str = "sales", x: str = "region", title: str | None = None) -> dict:
    spec = {"widget": "chart", "data": frame, "mark": "bar", "x": {"field": x, "type": "nominal"},
            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}
    return {**spec, "title": title} if title is not None else spec


def vl(spec: dict, frame: str = "sales") -> dict:
    return {"widget": "vega-lite", "data": frame, "spec": spec}


BAR = {"mark": "bar", "encoding": {"x": {"field": "region", "type": "nominal"},
                                   "y": {"aggregate": "sum", "field": "revenue"}}}


@pytest.fixture(scope="module")
def ns() -> dict:
    rng = np.random.default_rng(1)
    n = 6_000
    return {
        "sales": pd.DataFrame({"region": ["EU", "US", "EU"], "revenue": [1.0, 2.0, 4.0]}),
        "big": pd.DataFrame({"sku": [f"S{i:04d}" for i in range(n)], "revenue": rng.random(n),
                             "region": rng.choice([f"r{i}" for i in range(20)], n)}),
    }


def svg_of(r) -> str:
    assert r.ok, r.errors
    return r.mimebundle["image/svg+xml"]


# -- the one cleaning function ---------------------------------------------------------------

@pytest.mark.parametrize("ch", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_clean_text_replaces_every_non_xml_character(ch):
    assert clean_text(f"a{ch}b{ch}") == f"a{REPLACEMENT}b{REPLACEMENT}"


@pytest.mark.parametrize("ch", KEPT, ids=lambda c: f"U+{ord(c):04X}")
def test_clean_text_keeps_xml_characters(ch):
    assert clean_text(f"a{ch}b") == f"a{ch}b"


def test_clean_tree_cleans_keys_and_values_alike():
    tree = {"enc\x01": {"field": "col\x1b"}, "data": {"values": [{"col\x1b": "v\x00"}]},
            "n": 3, "ok": None, "list": ["\uffff", 1.5]}
    assert clean_tree(tree) == {"enc\ufffd": {"field": "col\ufffd"},
                                "data": {"values": [{"col\ufffd": "v\ufffd"}]},
                                "n": 3, "ok": None, "list": ["\ufffd", 1.5]}


# -- control characters through render_spec (the renderer used to abort the process) ----------

@pytest.mark.parametrize("ch", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_control_character_in_a_chart_title(ns, ch):
    svg = svg_of(render_spec(chart(title=f"Revenue{ch}by region"), ns))
    assert f"Revenue{REPLACEMENT}by region" in svg


@pytest.mark.parametrize("ch", IN_FRAMES, ids=lambda c: f"U+{ord(c):04X}")
def test_control_character_in_a_category_value(ch):
    frame = pd.DataFrame({"region": pd.Series([f"E{ch}U", "US"], dtype=object),  # any str
                          "revenue": [1.0, 2.0]})
    svg = svg_of(render_spec(chart(), {"sales": frame}))
    assert f"E{REPLACEMENT}U" in svg and "US" in svg


@pytest.mark.parametrize("ch", IN_FRAMES, ids=lambda c: f"U+{ord(c):04X}")
def test_control_character_in_a_column_name(ch):
    col = f"re{ch}gion"
    frame = pd.DataFrame({col: ["EU", "US"], "revenue": [1.0, 2.0]})
    r = render_spec(chart(x=col), {"sales": frame})
    assert f'aria-label="re{REPLACEMENT}gion: EU' in svg_of(r)  # field and data still match


def test_lone_surrogates_in_frame_data_give_a_short_error_or_a_clean_chart():
    frame = pd.DataFrame({"region": pd.Series(["E\ud800U", "US"], dtype=object),
                          "revenue": [1.0, 2.0]})
    r = render_spec(chart(), {"sales": frame})
    if r.ok:
        assert "E\ufffdU" in r.mimebundle["image/svg+xml"]
    else:
        assert r.errors[0].startswith("data: could not compute the chart: UnicodeEncodeError")
        assert "renderer crashed" not in r.errors[0]


@pytest.mark.parametrize("ch", ["\x00", "\x01", "\x1b", "\ufffe"],
                         ids=lambda c: f"U+{ord(c):04X}")
def test_control_characters_in_a_raw_vega_lite_spec(ch):
    frame = pd.DataFrame({f"re{ch}gion": pd.Series([f"E{ch}U", "US"], dtype=object),
                          "revenue": [1.0, 2.0]})
    spec = {"mark": "bar", "title": f"T{ch}itle",
            "encoding": {"x": {"field": f"re{ch}gion", "type": "nominal",
                               "axis": {"title": f"Reg{ch}ion"}},
                         "y": {"aggregate": "sum", "field": "revenue", "title": f"Rev{ch}"}}}
    svg = svg_of(render_spec(vl(spec), {"sales": frame}))
    for text in ("T\ufffditle", "E\ufffdU", "Reg\ufffdion", "Rev\ufffd"):
        assert text in svg


@pytest.mark.parametrize("renderer", ["png", "html", "vegalite", "text"])
def test_control_characters_are_cleaned_for_every_renderer(renderer):
    frame = pd.DataFrame({"region": ["E\x01U", "US"], "revenue": [1.0, 2.0]})
    r = render_spec(chart(title="T\x1b"), {"sales": frame}, renderer=renderer)
    assert r.ok, r.errors
    blob = json.dumps(r.mimebundle, ensure_ascii=False)
    assert "\x01" not in blob and "\x1b" not in blob and "\\u001b" not in blob
    if renderer == "png":
        assert base64.b64decode(r.mimebundle["image/png"])[:4] == b"\x89PNG"


def test_the_alt_text_is_cleaned_too(ns):
    r = render_spec(chart(title="a\x1b[31mred"), ns)
    assert r.mimebundle["text/plain"].endswith(f"a{REPLACEMENT}[31mred (2 points)")


# -- caps: one line naming the path ------------------------------------------------------------

CAPPED = [
    ({**BAR, "encoding": {**BAR["encoding"], "x": {"field": "revenue", "bin": {"maxbins": 1e8}}}},
     f"spec.encoding.x.bin.maxbins: 100,000,000 is over the limit of {MAX_BINS}"),
    ({**BAR, "transform": [{"bin": {"maxbins": 5000}, "field": "revenue", "as": "b"}]},
     "spec.transform[0].bin.maxbins: 5,000 is over the limit of 200"),
    ({**BAR, "encoding": {**BAR["encoding"], "x": {"field": "revenue", "bin": {"step": 1e-9}}}},
     "spec.encoding.x.bin.step: not allowed; use \"maxbins\""),
    ({**BAR, "width": 1e7}, f"spec.width: 10,000,000 is over the limit of {MAX_PIXELS:,} px"),
    ({**BAR, "height": 50_000}, "spec.height: 50,000 is over the limit of 4,000 px"),
    ({**BAR, "width": {"step": 1e5}}, "spec.width.step: 100,000 is over the limit of 200 px"),
    ({**BAR, "config": {"view": {"continuousHeight": 1e9}}},
     "spec.config.view.continuousHeight: 1,000,000,000 is over the limit of 4,000 px"),
    ({**BAR, "padding": {"left": 1e6}}, "spec.padding.left: 1,000,000 is over the limit"),
    ({**BAR, "title": {"text": "t", "fontSize": 1e5}}, "spec.title.fontSize: 100,000 is over"),
    ({**BAR, "encoding": {**BAR["encoding"], "y": {"field": "revenue", "axis": {
        "tickCount": 1e9}}}}, "spec.encoding.y.axis.tickCount: 1,000,000,000 is over the limit"),
    ({**BAR, "mark": {"type": "line", "strokeDash": [1e-6, 1e-6]}},
     "spec.mark.strokeDash[0]: dash segments must be 0 or 1 to 4,000 px"),
    ({**BAR, "mark": {"type": "point", "size": 1e12}}, "spec.mark.size: 1e+12 is over the limit"),
    ({**BAR, "transform": [{"density": "revenue", "steps": 10**7}]},
     "spec.transform[0].steps: 10,000,000 is over the limit of 500"),
    ({**BAR, "layer": [{"mark": "bar"}] * 11}, "spec.layer: 11 views, over the limit of 10"),
    ({"hconcat": [BAR] * 25}, "spec.hconcat: 25 views, over the limit of 20"),
    ({"repeat": [f"c{i}" for i in range(25)], "spec": BAR},
     "spec.repeat: 25 views, over the limit of 20"),
    ({"vconcat": [{"hconcat": [{"layer": [{"hconcat": [BAR]}]}]}]},
     "spec.vconcat[0].hconcat[0].layer[0].hconcat: views nested more than 3 deep"),
]


@pytest.mark.parametrize(("spec", "expected"), CAPPED, ids=[e.split(":")[0] for _, e in CAPPED])
def test_caps_reject_with_one_line_naming_the_path(ns, spec, expected):
    errors = validate_spec(vl(spec), ns)
    assert errors and errors[0].startswith(expected), errors
    assert all("\n" not in e and len(e) < 200 for e in errors)
    r = render_spec(vl(spec), ns)
    assert r.kind == "error" and r.errors[0].startswith(expected)


def test_non_finite_numbers_are_refused(ns):
    for bad in (float("inf"), float("-inf"), float("nan")):
        errors = validate_spec(vl({**BAR, "width": bad}), ns)
        assert errors and "is not a finite number" in errors[0] and errors[0].startswith(
            "spec.width")


def test_facet_panels_are_counted_in_the_embedded_data(ns):
    x = {"field": "revenue", "type": "quantitative"}
    spec = {**BAR, "encoding": {**BAR["encoding"], "x": x, "row": {"field": "sku"}}}
    r = render_spec(vl(spec, "big"), ns)
    assert r.kind == "error"
    assert r.errors[0].startswith("spec.encoding.row: 5,000 panels (distinct values of 'sku'), "
                                  f"over the limit of {MAX_PANELS}")


def test_all_views_together_are_capped(ns):
    layer = {"layer": [{"mark": "point", "encoding": {"x": {"field": "revenue"}}}] * 6}
    r = render_spec(vl({"facet": {"field": "region"}, "spec": layer}, "big"), ns)
    assert r.kind == "error"
    assert r.errors == [f"spec: 120 views in all (panels × layers × repeats), over the limit of "
                        f"{MAX_VIEWS}"]


def test_the_total_chart_area_is_capped(ns):
    spec = {"hconcat": [{**BAR, "width": 4000, "height": 4000}] * 3}
    assert validate_spec(vl(spec), ns) == [
        f"spec: 3 views of 4,000 × 4,000 px, over the limit of {MAX_AREA:,} px² in all"]
    assert validate_spec(vl({**BAR, "width": 4000, "height": 4000}), ns) == []


def test_moderate_facets_and_layers_still_render(ns):
    layer = {"layer": [{"mark": "point", "encoding": {"x": {"field": "revenue",
                                                             "type": "quantitative"}}}] * 3}
    r = render_spec(vl({"facet": {"field": "region"}, "spec": layer, "columns": 5}, "big"), ns)
    assert r.ok and "<svg" in r.mimebundle["image/svg+xml"], r.errors


def test_embedded_rows_and_bytes_are_capped():
    rows = [{"a": i} for i in range(MAX_ROWS + 1)]
    assert cap_errors({"mark": "point", "data": {"values": rows}}) == [
        f"data: {MAX_ROWS + 1:,} rows, over the limit of {MAX_ROWS:,}"]
    csv = "a\n" + "1\n" * (MAX_ROWS + 1)
    assert cap_errors({"data": {"values": csv}})[0].startswith("data: 5,001 rows")
    huge = [{"a": "x" * 2_000}] * MAX_ROWS  # 10 MB
    assert cap_errors({"data": {"values": huge}})[0].startswith(
        f"data: 10.0 MB embedded, over the limit of {MAX_DATA_BYTES / 1e6:.0f} MB")


def test_spec_text_and_depth_are_capped(ns):
    long_title = {"mark": "bar", "title": ["x" * 1000] * 101}
    assert cap_errors(long_title) == [f"spec: longer than {MAX_RENDER_CHARS:,} characters"]
    deep: dict = {"field": "region", "equal": "EU"}
    for _ in range(5_000):  # far past Python's recursion limit: no RecursionError
        deep = {"not": deep}
    errors = validate_spec(vl({**BAR, "transform": [{"filter": deep}]}), ns)
    assert errors == [f"spec: nested more than {MAX_DEPTH} levels deep"]
    assert cap_errors({"a": deep}) == [f"spec: nested more than {MAX_DEPTH} levels deep"]


def test_a_compiled_chart_from_a_huge_frame_stays_within_the_caps(ns):
    r = render_spec(chart("big", x="sku"), ns)
    assert r.ok and r.notes[0].startswith("Showing the top 100 of 6,000 categories")
    assert cap_errors(r.vegalite) == []


def test_a_spec_nested_past_the_recursion_limit_is_a_short_error():
    from dbchat_magic.specs import extract_specs

    deep = '{"widget": "chart", "a":' + '{"a":' * 100_000 + "1" + "}" * 100_001
    found = extract_specs(f"```json\n{deep}\n```")
    assert len(found) == 1 and found[0].spec is None
    assert found[0].error == "spec is not valid JSON: invalid JSON: nested too deeply"
