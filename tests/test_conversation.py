"""Conversations: turns, history messages, export, the registry."""

from __future__ import annotations

import json
import threading

from dbchat_magic.conversation import (
    Conversation,
    _forget_all,
    conversation_names,
    get_conversation,
    new_conversation,
)
from dbchat_magic.result import ChatResult, Metrics, Usage


def _result(text: str, status: str = "completed", **kw) -> ChatResult:
    return ChatResult(endpoint="ep", text=text, status=status, **kw)  # type: ignore[arg-type]


def test_history_keeps_order_and_skips_failed_or_empty_turns():
    c = Conversation("t")
    c.add("q1", _result("a1"))
    c.add("q2", _result("", "failed", error="boom"))
    c.add("q3", _result("partial", "stopped"))
    c.add("q4", _result("   ", "completed"))
    c.add("q5", _result("a5"), sent_question="q5 with notes")
    assert c.history_messages() == [
        {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q3"}, {"role": "assistant", "content": "partial"},
        {"role": "user", "content": "q5 with notes"}, {"role": "assistant", "content": "a5"},
    ]
    assert len(c) == 5


def test_history_budget_keeps_newest_turns():
    c = Conversation()
    for i in range(10):
        c.add(f"question {i}", _result("x" * 400))  # ~100 tokens per turn
    msgs = c.history_messages(budget_tokens=350)
    assert 4 <= len(msgs) <= 6
    assert msgs[-2]["content"] == "question 9"
    assert c.history_messages(budget_tokens=0) == []


def test_history_sends_copies_so_serializing_leaves_the_kept_text_alone():
    """orjson caches a non-ASCII string's UTF-8 form inside it for its lifetime (it then counts
    in ``sys.getsizeof``): the history a request serializes must be copies, not the question and
    answer strings the turns keep."""
    import sys

    import orjson

    c = Conversation()
    for i in range(30):
        c.add(f"Frage {i} über Umsatz", _result(f"Antwort {i} 🙂 数据 über Plan " * 20))
    msgs = c.history_messages()
    kept = [s for t in c.turns for s in (t.question, t.result.text)]
    assert [m["content"] for m in msgs] == kept
    assert not any(m["content"] is k for m, k in zip(msgs, kept, strict=True))
    assert c.history_messages(budget_tokens=0) == []
    sizes = [sys.getsizeof(k) for k in kept]
    orjson.dumps({"messages": msgs})  # as the client sends a request
    assert [sys.getsizeof(k) for k in kept] == sizes  # no UTF-8 form cached in a kept string
    orjson.dumps(kept[1])  # the check can fail: sending the kept answer itself caches it
    assert sys.getsizeof(kept[1]) > sizes[1] + len(kept[1].encode())


def test_reset_and_turns_copy():
    c = Conversation()
    c.add("q", _result("a"))
    turns = c.turns
    turns.clear()
    assert len(c) == 1
    c.reset()
    assert c.turns == [] and c.history_messages() == []


def test_export_json_and_markdown_hold_metrics_not_secrets():
    c = Conversation("sales")
    r = _result("Revenue grew.", usage=Usage(10, 5, 15), metrics=Metrics(total_time=1.5,
                time_to_first_token=0.2, tokens_per_second=3.3))
    c.add("How did revenue do?", r)
    c.add("And costs?", _result("", "failed", error="endpoint 'x' does not exist"))
    data = json.loads(c.to_json())
    assert data["conversation"] == "sales"
    assert data["turns"][0]["usage"]["completion_tokens"] == 5
    assert data["turns"][0]["metrics"]["total_time"] == 1.5
    assert data["turns"][1]["status"] == "failed"
    md = c.to_markdown()
    assert "## 1. How did revenue do?" in md and "Revenue grew." in md
    assert "5 tokens" in md and "1.50 s" in md
    assert "error: endpoint 'x' does not exist" in md


def test_registry_named_and_new():
    _forget_all()
    a = get_conversation()
    assert get_conversation("default") is a
    b = get_conversation("other")
    assert b is not a and conversation_names() == ["default", "other"]
    fresh = new_conversation("other")
    assert fresh is not b and get_conversation("other") is fresh
    _forget_all()


def test_concurrent_adds_are_all_recorded():
    c = Conversation()

    def add_many() -> None:
        for i in range(200):
            c.add(str(i), _result("a"))

    threads = [threading.Thread(target=add_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c) == 800


def test_markdown_export_carries_charts_and_keeps_outside_text_inert(tmp_path):
    """A spec title and table values are outside text: in the .md they stay text (no image,
    link or HTML of theirs); the only image is the package's own chart render."""
    import pandas as pd

    from dbchat_magic.markup import unsafe_constructs
    from dbchat_magic.specs import render_spec

    hostile = "<img src=x onerror=alert(1)>](javascript:alert(1)) ![p](http://127.0.0.1:9/b)"
    frame = pd.DataFrame({"region": ["East", "```\n<script>alert(1)</script>"],
                          "revenue": [1.0, 2.0]})
    ns = {"sales": frame}
    chart = render_spec({"widget": "chart", "mark": "bar", "data": "sales", "title": hostile,
                         "x": {"field": "region"}, "y": {"field": "revenue"}}, ns)
    table = render_spec({"widget": "table", "data": "sales", "columns": ["region"]}, ns)
    assert chart.ok and table.ok, (chart.errors, table.errors)
    c = Conversation("x")
    c.add("q", _result("answer", extras={"specs": [chart, table]}))
    kept: dict[str, str] = {}
    md = c.to_markdown(charts=lambda name, svg: kept.setdefault(name, svg) and f"x_charts/{name}")
    assert list(kept) == ["1-1.svg"] and kept["1-1.svg"].lstrip().startswith("<svg")
    assert "](x_charts/1-1.svg)" in md and "**Table 1.2**" in md
    image = next(line for line in md.splitlines() if line.startswith("![Chart 1.1: "))
    assert image.endswith("](x_charts/1-1.svg)") and "javascript" in image  # as text only
    assert unsafe_constructs(md.replace(image, "")) == []  # nothing else unsafe
    found = unsafe_constructs(image.replace("](x_charts/1-1.svg)", "](https://x.test/a.svg)"))
    assert len(found) == 1 and found[0].startswith("image:")  # its alt opened nothing of its own
    assert "<img" not in md  # the title is text; table values sit verbatim in a code fence
    inline = c.to_markdown()  # no sink: the chart as a data URI
    assert "](data:image/svg+xml;base64," in inline
