"""Plain-text fallback, metrics footer, status words, error hints and environment detection."""

from __future__ import annotations

import io
import json
import re
import threading

from dbchat_magic.errors import (
    AuthError,
    EndpointNotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
)
from dbchat_magic.result import ChatResult, Metrics, Usage
from dbchat_magic.ui import _environment as environment
from dbchat_magic.ui import explain_error, format_metrics, format_status
from dbchat_magic.ui._settled import SpecOutput, settled_outputs
from dbchat_magic.ui._text_view import TextAnswerView


def _result(**kw: object) -> ChatResult:
    result = ChatResult(endpoint="databricks-claude", **kw)  # type: ignore[arg-type]
    result.usage = Usage(prompt_tokens=10, completion_tokens=128, total_tokens=138)
    result.metrics = Metrics(time_to_first_token=0.4123, total_time=3.21, tokens_per_second=39.87)
    return result


def test_metrics_footer_has_every_known_part() -> None:
    assert format_metrics(_result()) == (
        "first token 412 ms · total 3.2 s · 128 tokens · 39.9 tok/s · databricks-claude")


def test_estimated_usage_is_marked_and_unknown_parts_are_left_out() -> None:
    result = _result()
    result.usage = Usage(completion_tokens=50, estimated=True)
    result.metrics = Metrics(time_to_first_token=None, total_time=12.4, tokens_per_second=4.0,
                             retries=1)
    assert format_metrics(result) == (
        "total 12 s · ≈50 tokens · ≈4.0 tok/s · 1 retry · databricks-claude")
    assert format_metrics(ChatResult()) == ""
    failed = ChatResult(endpoint="nope", usage=Usage(completion_tokens=0, estimated=True),
                        metrics=Metrics(total_time=0.6))
    assert format_metrics(failed) == "total 0.6 s · nope"  # no "≈0 tokens" for a failure


def test_status_words() -> None:
    assert format_status(ChatResult(), elapsed=3.4) == "⏳ thinking… 3 s"
    assert format_status(ChatResult(status="streaming")) == "✎ streaming…"
    assert format_status(ChatResult(status="completed")) == "✓ done"
    assert format_status(ChatResult(status="stopped")) == "■ stopped"
    assert format_status(ChatResult(status="failed")) == "✗ failed"


def test_error_hints_give_a_next_step() -> None:
    assert explain_error(EndpointNotFound("Endpoint with name 'x' does not exist.")) == (
        "Endpoint with name 'x' does not exist. — `%dbchat endpoints` lists yours")
    assert "`%dbchat config`" in explain_error(AuthError("403 PERMISSION_DENIED: no access"))
    assert "wait a minute" in explain_error(RateLimited("429 REQUEST_LIMIT_EXCEEDED after 3 "
                                                        "retries"))
    assert "scaling up" in explain_error(RequestTimeout("no first byte within 30 s (timeout)"))
    # the kind comes from the type, never from the words of the message
    assert explain_error("403 PERMISSION_DENIED: no access") == "403 PERMISSION_DENIED: no access"
    assert explain_error(ServerError("HTTP 404 from a proxy")) == "HTTP 404 from a proxy"
    assert "lists yours" in explain_error("gone", hint=EndpointNotFound.hint)
    assert "ask again" in explain_error("the connection dropped mid-answer", status="truncated")
    already = "endpoint 'x' does not exist — `%dbchat endpoints` lists yours"
    assert explain_error(already) == already
    own = "no Databricks credentials found; set DATABRICKS_HOST and DATABRICKS_TOKEN"
    assert explain_error(own) == own
    assert explain_error(None, status="stopped") == "the partial answer is kept"
    assert explain_error("something odd\n  happened") == "something odd happened"


def test_text_view_prints_only_new_text_then_status_and_metrics() -> None:
    out = io.StringIO()
    view = TextAnswerView(endpoint="databricks-claude", stream=out)
    view.show()
    result = _result(status="streaming")
    for piece in ("Hel", "lo", " world"):
        result.text += piece
        view.update(result)
        view.update(result)  # repeated updates print nothing new
    assert out.getvalue() == "Hello world"
    result.status = "stopped"
    result.error = None
    view.finish(result)
    view.finish(result)  # only once
    assert out.getvalue() == (
        "Hello world\n■ stopped after 128 tokens — partial answer kept\n"
        "first token 412 ms · total 3.2 s · 128 tokens · 39.9 tok/s · databricks-claude\n")
    view.update(_result(text="Hello world and more", status="streaming"))
    assert out.getvalue().count("Hello") == 1


def test_text_view_is_thread_safe() -> None:
    out = io.StringIO()
    view = TextAnswerView(endpoint="e", stream=out)
    text = "".join(f"{i:04d}" for i in range(2000))
    results = [ChatResult(text=text[: 4 * i], status="streaming") for i in range(2001)]
    threads = [threading.Thread(target=lambda part=part: [view.update(r) for r in part])
               for part in (results[::3], results[1::3], results[2::3])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    view.update(results[-1])
    assert out.getvalue() == text


def test_text_view_settles_only_specs() -> None:
    class Rendered:
        kind, mimebundle, notes, errors = "kpi", {"text/html": "<b>42</b>"}, ["n"], []

    result = _result(status="completed", text="x")
    result.extras["specs"] = [Rendered()]
    out = io.StringIO()
    view = TextAnswerView(endpoint="e", stream=out)
    view.finish(result)
    settled = view.settled_outputs(result)
    assert len(settled) == 1 and isinstance(settled[0], SpecOutput)
    assert settled[0]._repr_mimebundle_()["text/plain"] == "<dbchat kpi>"
    assert "note: n" in out.getvalue()


def test_settled_outputs_of_a_failure_keep_partial_text() -> None:
    result = _result(status="failed", text="half", error="Endpoint with name 'x' does not exist.",
                     error_kind="EndpointNotFound", error_hint=EndpointNotFound.hint)
    items = settled_outputs(result)
    assert items[0].text == "half" and items[0].html == "<p>half</p>\n"
    assert repr(items[1]).startswith("✗ failed: Endpoint with name 'x' does not exist. — ")
    assert repr(items[2]).startswith("first token")


def test_environment_outside_a_kernel() -> None:
    assert environment.in_kernel() is False
    assert environment.widgets_usable() is False
    assert environment.ipywidgets_major() in (7, 8)
    assert environment.describe()["ipykernel"]


def test_spec_json_is_folded_away_with_its_fence() -> None:
    from pathlib import Path

    from dbchat_magic.ui._settled import answer_html

    text = (Path(__file__).parent / "spec_corpus" / "04_two_specs.md").read_text()
    folded = answer_html(text, fold=True)
    assert folded.count("<details><summary>chart spec (JSON)</summary>") == 1
    assert folded.count("<details><summary>KPI spec (JSON)</summary>") == 1  # not "chart"
    assert "```" not in folded  # every fence became a code block, none left as text
    assert folded.startswith("<p>Trend:") and "And the total:" in folded
    for block in folded.split("<details>")[1:]:
        body = block.split("</details>")[0]
        assert body.count("<pre><code") == 1 and '"widget"' in body


def test_text_view_in_a_kernel_writes_only_from_its_own_thread() -> None:
    out = io.StringIO()
    view = TextAnswerView(endpoint="e", stream=out, any_thread=False)
    result = ChatResult(text="from the runner", status="streaming")
    worker = threading.Thread(target=view.update, args=(result,))
    worker.start()
    worker.join()
    assert out.getvalue() == ""  # would land in another cell
    view.update(result)  # the cell's own thread (a tick) catches up
    assert out.getvalue() == "from the runner"


def test_spec_output_as_html_inlines_tables_images_and_text() -> None:
    import base64

    import pytest

    pd = pytest.importorskip("pandas")
    from dbchat_magic.specs import render_spec

    ns = {"sales": pd.DataFrame({"region": ["EU", "US"], "revenue": [1.0, 2.0]})}
    table = render_spec({"widget": "table", "data": "sales", "columns": ["region", "revenue"]}, ns)
    assert table.ok, table.errors
    markup = SpecOutput(table.kind, table.mimebundle).as_html()
    assert markup.startswith("<div>") and "<table" in markup and "EU" in markup
    png = SpecOutput("chart", {"image/png": base64.b64encode(b"PNG").decode(), "text/plain": "c"})
    assert png.as_html() == ('<img alt="c" style="max-width:100%;height:auto" '
                             'src="data:image/png;base64,UE5H">')  # scaled to the output area
    scripted = SpecOutput("chart", {"text/html": "<script>x()</script>", "text/plain": "a<b>"})
    assert scripted.as_html() == "<pre>a&lt;b&gt;</pre>"  # scripts never inlined


def test_a_chart_answer_carries_the_constant_fit_css_and_nothing_else_does() -> None:
    """The CSS that lets interactive charts take the output area's width comes once, after the
    answer (before the charts it sizes), only when a chart spec is folded; model text that
    writes a <style> of its own is still escaped/sanitized (it never reaches the page)."""
    from dbchat_magic.specs import FIT_CSS
    from dbchat_magic.ui._settled import answer_html

    chart = ('Look.\n```json\n{"widget": "chart", "data": "s", "mark": "bar", "x": {"field": "a",'
             ' "type": "nominal"}, "y": {"field": "b", "type": "quantitative"}}\n```\n'
             "<style>body{display:none}</style>")
    folded = answer_html(chart, fold=True)
    assert folded.endswith(f"<style>{FIT_CSS}</style>") and folded.count("<style>") == 1
    assert "display:none" not in folded.replace("&lt;style&gt;body{display:none}", "")
    kpi = 'N.\n```json\n{"widget": "kpi", "data": "s", "aggregate": "count"}\n```\n'
    assert "<style>" not in answer_html(kpi, fold=True)
    assert "<style>" not in answer_html(chart, fold=False)  # not folded: no charts drawn


def test_the_panel_transcript_scales_its_chart_images_to_the_bubble() -> None:
    """The panel's plain transcript keeps a drawn chart as its static SVG image, styled to fit its
    output area (max-width, height kept in proportion), with the fit CSS for any live chart."""
    import pytest

    pd = pytest.importorskip("pandas")
    from dbchat_magic.specs import FIT_CSS, render_spec
    from dbchat_magic.ui._transcript import TranscriptTurn, transcript_bundle

    ns = {"sales": pd.DataFrame({"region": ["EU", "US"], "revenue": [1.0, 2.0]})}
    spec = ('{"widget": "chart", "data": "sales", "mark": "bar", "x": {"field": "region", '
            '"type": "nominal"}, "y": {"field": "revenue", "type": "quantitative"}}')
    rendered = render_spec(json.loads(spec), ns, renderer="vegalite")
    assert rendered.ok, rendered.errors
    result = ChatResult(endpoint="e", text=f"Chart:\n```json\n{spec}\n```\n", status="completed")
    result.extras["specs"] = [rendered]
    markup = transcript_bundle([TranscriptTurn("q", "e", result)], "chat")["text/html"]
    images = re.findall(r"<img [^>]*>", markup)
    assert len(images) == 1 and 'style="max-width:100%;height:auto"' in images[0], images
    assert images[0].count("data:image/svg+xml;base64,") == 1
    assert f"<style>{FIT_CSS}</style>" in markup
