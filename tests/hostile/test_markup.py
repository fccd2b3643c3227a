"""Outside text never becomes runnable markup: every payload is checked by parsing what we emit.

The checks parse the produced HTML with ``html.parser`` and compare every element, attribute and
URL with the allow-list; the ``.md`` export is rendered by markdown-it-py with raw HTML ON and
checked the same way. Formatting that must survive is checked too.
"""

from __future__ import annotations

import json
import re

import pytest

from dbchat_magic.markup import (
    LiveMarkdown,
    allowed_url,
    clean_text,
    escape,
    markdown_html,
    one_line,
    safe_markdown,
    unsafe_constructs,
)
from dbchat_magic.result import ChatResult
from hostile.html_check import EXPORT_ATTRS, EXPORT_TAGS, assert_safe_html, violations
from hostile.markup_payloads import combined, payloads

PAYLOADS = payloads()
IDS = [name for name, _ in PAYLOADS]
# -- every payload through every HTML surface -------------------------------------------------
def test_the_corpus_is_large_enough() -> None:
    assert len(PAYLOADS) >= 35 and len(set(IDS)) == len(IDS)


@pytest.mark.parametrize(("name", "text"), PAYLOADS, ids=IDS)
def test_markdown_html_keeps_only_allowed_markup(name: str, text: str) -> None:
    assert_safe_html(markdown_html(text))
    assert_safe_html(markdown_html(f"Intro *text*.\n\n{text}\n\nAfter."))


@pytest.mark.parametrize(("name", "text"), PAYLOADS, ids=IDS)
def test_the_export_stays_markdown_without_raw_html_or_bad_links(name: str, text: str) -> None:
    from markdown_it import MarkdownIt

    exported = safe_markdown(text)
    assert unsafe_constructs(exported) == []
    rendered = MarkdownIt("commonmark", {"html": True}).enable(
        ["table", "strikethrough"]).render(exported)
    bad = violations(rendered, EXPORT_TAGS, EXPORT_ATTRS)
    assert not bad, f"{name}: {bad}\n--- export:\n{exported}\n--- rendered:\n{rendered}"


@pytest.mark.parametrize(("name", "text"), PAYLOADS, ids=IDS)
def test_terminal_text_has_no_escape_or_control_characters(name: str, text: str) -> None:
    cleaned = clean_text(text)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", cleaned), repr(cleaned)


def test_all_payloads_in_one_answer_through_the_live_renderer() -> None:
    text = combined("http://127.0.0.1:9/beacon")
    live = LiveMarkdown()
    for end in range(0, len(text) + 1, 97):
        assert_safe_html(live.render(text[:end]))
    assert_safe_html(live.render(text))
    assert_safe_html(markdown_html(text))


def test_the_settled_outputs_and_result_repr_escape_outside_text() -> None:
    from dbchat_magic.ui._settled import AnswerOutput, SettledLine, answer_html

    text = combined("http://127.0.0.1:9/beacon")
    assert_safe_html(AnswerOutput(text).html)
    assert_safe_html(ChatResult(text=text, status="completed")._repr_html_())
    failed = ChatResult(text=text, status="failed", error='<img src=x onerror="alert(1)">')
    assert_safe_html(failed._repr_html_())
    line = SettledLine("chart not drawn: spec: field '<img src=x onerror=alert(1)>' is not a col")
    assert line.as_html() == ("<small>chart not drawn: spec: field &#x27;&lt;img src=x "
                              "onerror=alert(1)&gt;&#x27; is not a col</small>")
    assert line._repr_mimebundle_()["text/plain"].startswith("chart not drawn: spec: field '<img")
    spec = ('Chart:\n```json\n{"widget": "kpi", "data": "s", "aggregate": "count", '
            '"label": "<img src=x onerror=alert(1)>"}\n```\n<script>alert(2)</script>')
    folded = answer_html(spec, fold=True)
    assert "<details><summary>KPI spec (JSON)</summary>" in folded
    assert_safe_html(folded.replace("<details><summary>KPI spec (JSON)</summary>", "")
                     .replace("</details>", ""))


@pytest.mark.parametrize("bad", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:x",
    "data:text/html,x", "vbscript:x", "file:///etc/passwd", "//evil.example/x", "/api/contents",
    "https://ok.example/\"onmouseover=x", "http:alert(1)", "", "mailto", "https:",
])
def test_allowed_url_rejects(bad: str) -> None:
    assert not allowed_url(bad)


@pytest.mark.parametrize("good", [
    "https://example.com/a?b=c#d", "http://127.0.0.1:8888/x", "mailto:someone@example.com",
    "HTTPS://EXAMPLE.COM",
])
def test_allowed_url_accepts(good: str) -> None:
    assert allowed_url(good)


# -- formatting survives ----------------------------------------------------------------------
FORMATTED = """# Revenue report

Some **bold**, *italic*, ~~struck~~ and `inline code` text, a [link](https://example.com/r),
an <https://example.com/auto> autolink and [mail](mailto:team@example.com).

## Table

| region | revenue |
|:-------|--------:|
| EMEA   | 1,200   |
| APAC   | 900     |

- first
- second with `code`

1. one
2. two

> a quote

```python
df.groupby("region")["revenue"].sum()  # x < y
```

Math: $a_1 * b_2 = c_{10}$ and

$$
\\sum_{i=1}^n x_i < 5
$$
"""


def test_formatting_survives() -> None:
    out = markdown_html(FORMATTED)
    assert_safe_html(out)
    for piece in ("<h1>Revenue report</h1>", "<h2>Table</h2>", "<strong>bold</strong>",
                  "<em>italic</em>", "<s>struck</s>", "<code>inline code</code>",
                  '<a href="https://example.com/r" rel="noopener noreferrer nofollow">link</a>',
                  '<a href="https://example.com/auto" rel="noopener noreferrer nofollow">',
                  '<a href="mailto:team@example.com" rel="noopener noreferrer nofollow">mail</a>',
                  '<th style="text-align:left">region</th>', '<td style="text-align:right">900',
                  "<li>first</li>", "<ol>", "<blockquote>",
                  '<pre><code class="language-python">df.groupby("region")["revenue"].sum()'
                  "  # x &lt; y", '<span class="math inline">$a_1 * b_2 = c_{10}$</span>',
                  '<div class="math block">$$\\sum_{i=1}^n x_i &lt; 5$$</div>'):
        assert piece in out, f"{piece!r} missing from:\n{out}"


def test_images_never_load_they_become_links_or_text() -> None:
    out = markdown_html("![a chart](https://example.com/c.png) ![x](javascript:alert(1))")
    assert "<img" not in out
    assert '<a href="https://example.com/c.png" rel="noopener noreferrer nofollow">image: a chart' \
           in out
    assert "![x](javascript:alert(1))</p>" in out  # a disallowed URL: no image, no link, text


def test_the_export_keeps_formatting_readable() -> None:
    exported = safe_markdown(FORMATTED)
    # nothing to neutralise but the `<` in the math (escaped: it is outside code)
    assert exported.rstrip("\n") == FORMATTED.replace("x_i < 5", "x_i &lt; 5").rstrip("\n")
    hostile = 'Use `a<b` here <b>bold</b> and [x](javascript:alert(1)) ![i](https://e.x/i.png)'
    assert safe_markdown(hostile) == ("Use `a<b` here &lt;b>bold&lt;/b> and [x]\\(javascript:"
                                      "alert(1)) \\![i](https://e.x/i.png)")


def test_export_closes_a_fence_a_stopped_answer_left_open() -> None:
    exported = safe_markdown("Start\n\n```python\nx = 1 < 2\n")
    assert exported.endswith("\n```")
    after = unsafe_constructs(exported + "\n\n<b>next</b>")
    assert sorted(after) == ["html_inline: '</b>'", "html_inline: '<b>'"]  # not swallowed


def test_conversation_export_is_safe_markdown() -> None:
    from markdown_it import MarkdownIt

    from dbchat_magic.conversation import Conversation

    conv = Conversation("<b>chat</b>")
    text = combined("http://127.0.0.1:9/beacon")
    conv.add('<img src=x onerror="alert(1)"> question', ChatResult(
        text=text, status="failed", endpoint="<svg onload=alert(1)>", error="<i>boom</i>"))
    conv.add("second", ChatResult(text=FORMATTED, status="completed", endpoint="e"))
    exported = conv.to_markdown()
    rendered = MarkdownIt("commonmark", {"html": True}).enable(["table"]).render(exported)
    assert not violations(rendered, EXPORT_TAGS, EXPORT_ATTRS)
    assert "<h2>2. second</h2>" in rendered and "<table>" in rendered  # formatting kept
    data = json.loads(conv.to_json())  # the JSON export keeps the exact text: data, not markup
    assert data["turns"][0]["answer"] == text


def test_clean_text_strips_terminal_sequences_and_keeps_text() -> None:
    assert clean_text("a\x1b[31mred\x1b[0m b") == "ared b"
    assert clean_text("x\x1b]52;c;ZXZpbA==\x07y") == "xy"  # OSC 52: write the clipboard
    assert clean_text("x\x1b]8;;https://evil\x1b\\link\x1b]8;;\x1b\\y") == "xlinky"
    assert clean_text("\x9b31mz\x9d0;t\x9cw") == "zw"  # 8-bit CSI / OSC ... ST
    assert clean_text("tab\tnew\nline\r\nend\rback\x08\x00") == "tab\tnew\nline\nend\nback"
    assert clean_text("naïve – 日本 🚀") == "naïve – 日本 🚀"
    assert one_line("  a \n\t b\x1b[2J ") == "a b"
    assert escape("<a href='x'>&</a>\x07") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt;"


def test_live_rendering_matches_the_whole_render() -> None:
    block = ("Paragraph with **bold** and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
             "```text\ninside a fence\n\nTop-level looking line\n```\n\n$$\nx^2\n$$\n\n"
             "# Heading\n\n- one\n\n- two\n\n")
    text = block * 40  # ~8 KB: past the whole-render threshold
    live = LiveMarkdown()
    for end in range(0, len(text), 211):
        live.render(text[:end])
    assert live.render(text) == markdown_html(text)


def test_live_rendering_starts_over_when_the_text_is_rewritten() -> None:
    live = LiveMarkdown()
    first = "para one\n\n" * 600
    live.render(first)
    rewritten = "# other\n\n" + "para two\n\n" * 600
    assert live.render(rewritten) == markdown_html(rewritten)


def test_a_huge_paragraph_is_not_rendered_whole_on_every_tick() -> None:
    from dbchat_magic.markup._live import LONG_TAIL

    text = "word **bold** and `code` here\n" * 1500  # 45 KB, no blank line anywhere
    live = LiveMarkdown()
    for end in range(0, len(text), 1999):
        shown = live.render(text[:end])
        assert end - live.kept <= LONG_TAIL + 100 or end < LONG_TAIL
    assert live.kept > len(text) - LONG_TAIL - 1000
    assert_safe_html(shown)


def test_tables_and_kpis_of_hostile_data_are_escaped() -> None:
    pd = pytest.importorskip("pandas")
    from dbchat_magic.specs import render_spec
    from dbchat_magic.ui._settled import SpecOutput
    from hostile.html_check import elements

    evil = '<img src=x onerror="alert(1)">'
    frame = pd.DataFrame({evil: ["<script>alert(2)</script>", "\x1b]52;c;eA==\x07ok"],
                          "v": [1, 2]})
    specs = [{"widget": "table", "data": "d", "columns": [evil, "v"], "title": evil},
             {"widget": "kpi", "data": "d", "aggregate": "sum", "field": "v", "label": evil}]
    for spec in specs:
        rendered = render_spec(spec, {"d": frame})
        assert rendered.ok, rendered.errors
        markup = SpecOutput(rendered.kind, rendered.mimebundle).as_html()
        assert "&lt;img src=x" in markup and "\x1b" not in markup
        found = elements(markup).elements
        assert {tag for tag, _ in found} <= {"div", "b", "table", "thead", "tbody", "tr", "th",
                                             "td"}, found
        assert {name for _, attrs in found for name in attrs} <= {"class", "style"}, found
