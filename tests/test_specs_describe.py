"""Specs as one line of words (``%dbchat history``) and the fold of spec JSON in settled answers."""

from __future__ import annotations

import pytest

from dbchat_magic.specs._describe import describe_spec, specs_as_words
from dbchat_magic.ui._settled import answer_html, answer_plain

CHART = {"widget": "chart", "data": "sales", "mark": "bar", "title": "Revenue by region",
         "x": {"field": "region", "type": "nominal"},
         "y": {"field": "revenue", "aggregate": "sum", "type": "quantitative"}}


@pytest.mark.parametrize(("spec", "words"), [
    (CHART, "[bar chart of sum(revenue) by region from sales: Revenue by region]"),
    ({"widget": "chart", "data": "web", "mark": "line",
      "x": {"field": "ts", "timeUnit": "yearmonth"}, "y": {"aggregate": "count"},
      "color": {"field": "device"}},
     "[line chart of count by yearmonth(ts) and device from web]"),
    ({"widget": "table", "data": "sales", "columns": ["sku", "revenue"]},
     "[table of sku, revenue from sales]"),
    ({"widget": "kpi", "data": "sales", "aggregate": "mean", "field": "price"},
     "[KPI mean(price) from sales]"),
    ({"widget": "kpi", "data": "sales", "aggregate": "count"}, "[KPI count from sales]"),
    ({"widget": "vega-lite", "data": "sales", "spec": {}}, "[Vega-Lite chart from sales]"),
    ({"widget": "chart", "data": "x", "mark": "bar", "x": "oops", "y": None},
     "[bar chart of ? by ? from x]"),
])
def test_describe_spec(spec, words):
    assert describe_spec(spec) == words


def test_fenced_and_bare_specs_become_words_and_prose_stays():
    fenced = ('Revenue is highest in the north.\n```json\n{"widget": "kpi", "data": "sales", '
              '"aggregate": "sum", "field": "revenue"}\n```\nAsk for more.')
    assert specs_as_words(fenced) == ("Revenue is highest in the north.\n"
                                      "[KPI sum(revenue) from sales]\nAsk for more.")
    bare = 'See {"widget": "table", "data": "t", "columns": ["a"]} here.'
    assert specs_as_words(bare) == "See [table of a from t] here."
    broken = 'Half a spec: ```json\n{"widget": "chart", "data": '
    assert specs_as_words(broken) == broken  # nothing complete: the text as it was
    assert specs_as_words("no specs {at all}") == "no specs {at all}"


def test_settled_answers_fold_the_spec_json_and_keep_it():
    text = 'Here.\n```json\n{"widget": "kpi", "data": "s", "aggregate": "count"}\n```\nDone.'
    folded = answer_html(text, fold=True)
    assert folded.startswith("<p>Here.</p>") and folded.endswith("<p>Done.</p>\n")
    assert folded.index("</details>") < folded.index("Done.")
    assert "<details><summary>KPI spec (JSON)</summary>" in folded  # labelled as what it is
    assert ('<pre><code class="language-json">{"widget": "kpi", "data": "s", '
            '"aggregate": "count"}') in folded
    assert answer_plain(text, fold=True) == "Here.\nDone."  # the JSON is the chart's business
