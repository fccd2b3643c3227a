"""A renderer failure never takes the kernel down: a renderer crash, a control character in the
data and an oversized spec each leave the kernel alive with its variables (``x + 1 == 42``)."""

from __future__ import annotations

import json
from typing import Any

KernelHarness = Any  # the class lives in tests/kernel/conftest.py (not importable)
CRASHED = "the chart could not be drawn (renderer crashed); the answer is kept"


def _alive(kernel: KernelHarness) -> None:
    check = kernel.execute("print(x + 1)")
    assert check.status == "ok" and check.stdout == "42\n", check.outputs


def _setup(kernel: KernelHarness) -> None:
    ok = kernel.execute("import pandas as pd\nx = 41\n"
                        "rk_sales = pd.DataFrame({'region': ['E\\x01U', 'US', 'E\\x01U'],"
                        " 're\\x1bgion': ['a', 'b', 'a'], 'revenue': [1.0, 2.0, 3.0]})")
    assert ok.status == "ok", ok.outputs


def _ask(kernel: KernelHarness, kernel_sim: Any, phrase: str, spec: dict, var: str) -> Any:
    kernel_sim.script(phrase, f"Here it is:\n\n```json\n{json.dumps(spec)}\n```\n")
    ex = kernel.execute(f"%%dbchat -o {var} -d rk_sales\n{phrase}", timeout=120)
    assert ex.status == "ok", ex.outputs
    return ex


def _spec_line(kernel: KernelHarness, var: str, expr: str) -> str:
    out = kernel.execute(f"_s = {var}.extras['specs'][0]\nprint({expr})")
    assert out.status == "ok", out.outputs
    return str(out.stdout.strip())


def test_a_renderer_crash_leaves_the_kernel_and_its_variables(kernel: KernelHarness):
    _setup(kernel)
    crash = kernel.execute(
        "from dbchat_magic.specs._worker import RenderFailed, shared_worker\n"
        "spec = {'mark': 'bar', 'title': 'a\\x01b', 'data': {'values': [{'k': 'a', 'v': 1}]},\n"
        "        'encoding': {'x': {'field': 'k'}, 'y': {'field': 'v'}}}\n"
        "try:\n    shared_worker().svg(spec)  # uncleaned: vl-convert panics in the worker\n"
        "except RenderFailed as exc:\n    print(exc)\n", timeout=120)
    assert crash.status == "ok" and crash.stdout == CRASHED + "\n", crash.outputs
    _alive(kernel)


def test_a_crash_while_answering_keeps_the_answer_and_the_next_chart_works(
        kernel: KernelHarness, kernel_sim: Any):
    _setup(kernel)
    spec = {"widget": "chart", "data": "rk_sales", "mark": "bar", "title": "T\x01",
            "x": {"field": "region", "type": "nominal"},
            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}
    patch = kernel.execute("import dbchat_magic.specs._textclean as _tc\n"
                           "from dbchat_magic.specs._worker import shared_worker\n"
                           "shared_worker().start()\n_starts = shared_worker().starts\n"
                           "_keep = _tc.clean_tree\n_tc.clean_tree = lambda tree: tree")
    assert patch.status == "ok", patch.outputs
    try:
        _ask(kernel, kernel_sim, "crash the renderer please", spec, "rk_crash")
    finally:
        kernel.execute("_tc.clean_tree = _keep")
    assert _spec_line(kernel, "rk_crash", "_s.errors") == repr([CRASHED])
    assert _spec_line(kernel, "rk_crash", "rk_crash.text.startswith('Here it is')") == "True"
    _alive(kernel)
    _ask(kernel, kernel_sim, "draw it again please", spec, "rk_again")
    assert _spec_line(kernel, "rk_again", "_s.kind, 'T\\ufffd' in "
                      "_s.mimebundle['image/svg+xml']") == "chart True"
    restarts = kernel.execute("print(shared_worker().starts - _starts)")
    assert restarts.stdout == "1\n"  # crashed once (not again in the final pass), restarted once
    _alive(kernel)


def test_control_characters_in_the_data_draw_a_chart(kernel: KernelHarness, kernel_sim: Any):
    _setup(kernel)
    spec = {"widget": "chart", "data": "rk_sales", "mark": "bar",
            "x": {"field": "region", "type": "nominal"},
            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"},
            "color": {"field": "re\x1bgion", "type": "nominal"}}
    _ask(kernel, kernel_sim, "chart with dirty data", spec, "rk_dirty")
    svg = "_s.mimebundle['image/svg+xml']"
    assert _spec_line(kernel, "rk_dirty", f"_s.kind, 'E\\ufffdU' in {svg}, "
                      f"'re\\ufffdgion' in {svg}") == "chart True True"
    _alive(kernel)


def test_an_oversized_spec_is_refused_and_the_kernel_lives(kernel: KernelHarness,
                                                           kernel_sim: Any):
    _setup(kernel)
    spec = {"widget": "vega-lite", "data": "rk_sales", "spec": {
        "mark": "bar", "width": 1e7,
        "encoding": {"x": {"field": "revenue", "bin": {"maxbins": 1e8}},
                     "y": {"aggregate": "count"}}}}
    _ask(kernel, kernel_sim, "a giant histogram", spec, "rk_huge")
    errors = _spec_line(kernel, "rk_huge", "'\\n'.join(_s.errors)").splitlines()
    assert "spec.width: 10,000,000 is over the limit of 4,000 px" in errors
    assert "spec.encoding.x.bin.maxbins: 100,000,000 is over the limit of 200" in errors
    _alive(kernel)


def _check_fit(outputs: list[Any], vl: dict[str, Any], svg: str) -> None:
    """The interactive chart takes the output area's width (the vega-embed patch, 320 px without
    it; never "container"), the answer before it carries the fit CSS once, the image is fixed."""
    from dbchat_magic.specs import FIT_CSS
    from dbchat_magic.specs._vl_build import FIT_PATCH, STATIC_WIDTH, WIDTH

    def html(o: dict[str, Any]) -> str:
        value = o.get("data", {}).get("text/html", "")
        return "".join(value) if isinstance(value, list) else str(value)

    styled = [i for i, o in enumerate(outputs) if FIT_CSS in html(o)]
    drawn = [i for i, o in enumerate(outputs)
             if "application/vnd.vegalite.v5+json" in o.get("data", {})]
    assert styled and min(styled) < max(drawn), outputs  # the rule is on the page first
    assert all(html(outputs[i]).count(FIT_CSS) == 1 for i in styled)
    assert vl["width"] == WIDTH and vl["usermeta"]["embedOptions"]["patch"] == FIT_PATCH
    head = svg[:svg.index(">")]
    assert f'width="{STATIC_WIDTH}"' in head, head  # the image keeps a fixed width


def test_a_chart_output_is_interactive_with_the_static_svg_beside_it(kernel: KernelHarness,
                                                                     kernel_sim: Any):
    _setup(kernel)
    spec = {"widget": "chart", "data": "rk_sales", "mark": "bar",
            "x": {"field": "region", "type": "nominal"},
            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}
    ex = _ask(kernel, kernel_sim, "an interactive chart please", spec, "rk_live")
    vegalite = "application/vnd.vegalite.v5+json"
    charts = [o["data"] for o in ex.outputs if vegalite in o.get("data", {})]
    assert charts, ex.outputs
    data = charts[-1]  # the settled output (the live view may have shown it too)
    assert data["image/svg+xml"].lstrip().startswith("<svg")
    vl = data[vegalite]
    assert vl["autosize"]["type"] == "fit" and vl["title"] == "sum of revenue by region"
    assert [t["field"] for t in vl["encoding"]["tooltip"]] == ["region", "sum_revenue"]
    _check_fit(ex.outputs, vl, data["image/svg+xml"])
    kept = _spec_line(kernel, "rk_live", "type(rk_live.charts[0].chart).__name__, "
                      "rk_live.charts[0].data['sum_revenue'].sum()")
    assert kept == "Chart 6.0"
    _alive(kernel)
