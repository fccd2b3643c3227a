"""The ChatPanel as a chat (issue 13): Enter sends, bubbles, ⚙ settings, the plain transcript.

Messages reach the widgets through ipywidgets' own comm handler (``_handle_msg``) in the shapes a
browser sends: ``{"method": "custom", "content": {"event": "submit"}}`` on Enter, then the
committed ``{"method": "update", "state": {"value": …}}``. The answers come from the simulator.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dbchat_magic.conversation import _forget_all
from dbchat_magic.simulator import LLAMA, Simulator
from dbchat_magic.ui import ChatPanel
from dbchat_magic.ui._chat_input import ENTER_GRACE, ONE_LINE_HELP, SEVERAL_LINES_HELP

pytest.importorskip("ipywidgets")

WAIT = 30 * ENTER_GRACE + 30  # far longer than the grace a submit waits for its value


def _from_browser(widget: Any, data: dict[str, Any]) -> None:
    widget._handle_msg({"content": {"data": data}, "buffers": []})


def _enter(widget: Any) -> None:
    _from_browser(widget, {"method": "custom", "content": {"event": "submit"}})


def _commit(widget: Any, value: str) -> None:
    _from_browser(widget, {"method": "update", "state": {"value": value}, "buffer_paths": []})


def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def panel(live: Simulator) -> Iterator[ChatPanel]:
    made = ChatPanel(list_endpoints=False, namespace={})
    yield made
    made.close()


def test_enter_sends_the_value_committed_with_it(panel: ChatPanel) -> None:
    line = panel.input
    _enter(line)
    _commit(line, "what is the total revenue?")
    assert len(panel.turns) == 1 and panel.turns[0].question == "what is the total revenue?"
    result = panel.wait(60)
    assert result is not None and result.ok, result and result.error
    assert line.value == ""  # emptied for the next question


def test_enter_without_a_new_value_sends_the_text_already_there(panel: ChatPanel) -> None:
    _commit(panel.input, "committed when the box was left")  # no submit: nothing is sent
    assert panel.turns == [] and panel.input.value == "committed when the box was left"
    _enter(panel.input)  # the text did not change, so no value update follows
    _until(lambda: len(panel.turns) == 1, "the grace to send the text already in the box")
    assert panel.turns[0].question == "committed when the box was left"
    panel.wait(60)


def test_enter_on_an_empty_box_does_not_send_a_later_draft(panel: ChatPanel) -> None:
    _enter(panel.input)
    _until(lambda: panel.chat_input._armed == 0, "the empty submit to expire")
    _commit(panel.input, "a draft, committed by leaving the box")
    assert panel.turns == []


def test_several_lines_mode_keeps_new_lines_and_send_sends(panel: ChatPanel) -> None:
    _commit(panel.input, "first line")
    panel.chat_input.several.value = True
    box = panel.input
    assert box is panel.chat_input.lines and box.value == "first line"
    assert panel.chat_input.slot.children == (box,)
    assert SEVERAL_LINES_HELP in panel.chat_input.help.value
    _commit(box, "first line\nsecond line")
    panel.send_button.click()
    assert panel.turns[-1].question == "first line\nsecond line"
    assert box.value == ""
    panel.wait(60)
    panel.chat_input.several.value = False
    assert panel.input is panel.chat_input.line and ONE_LINE_HELP in panel.chat_input.help.value


def test_send_waits_for_the_value_behind_its_click(panel: ChatPanel) -> None:
    """The browser's click overtakes the box's value (ipywidgets holds a state update back while
    an earlier one awaits the kernel, but sends the click at once): the value behind it is sent."""
    panel.chat_input.several.value = True
    box = panel.input
    panel.send_button.click()  # the kernel still sees an empty box
    assert panel.turns == []
    _commit(box, "first line\nsecond line")
    assert [t.question for t in panel.turns] == ["first line\nsecond line"]
    assert box.value == ""
    panel.wait(60)


def test_send_on_an_empty_box_says_so_when_no_value_comes(panel: ChatPanel) -> None:
    panel.chat_input.several.value = True
    panel.chat_input._after = lambda _s, then, *args: then(*args)  # no value is coming: at once
    panel.send_button.click()
    assert panel.turns == [] and "type a question first" in panel.note.value


def test_the_history_is_a_fixed_height_box_that_starts_at_the_bottom(panel: ChatPanel) -> None:
    frame = panel.history_frame
    assert frame.children == (panel.history,)
    assert frame.layout.height and frame.layout.overflow == "auto"
    assert frame.layout.flex_flow == "column-reverse"  # the browser keeps the bottom in view
    assert "dbchat-history-frame" in frame._dom_classes
    assert panel.earlier.layout.width == "auto"  # "show N earlier of M" is never cut off


def test_settings_are_folded_behind_the_gear(panel: ChatPanel) -> None:
    assert panel.settings.widget.layout.display == "none"
    panel.settings_toggle.value = True
    assert panel.settings.widget.layout.display is None
    panel.settings_toggle.value = False
    assert panel.settings.widget.layout.display == "none"


def test_both_roles_are_labelled_and_each_turn_has_one_status(panel: ChatPanel) -> None:
    for question in ("first", "second"):
        panel.ask(question)
        assert panel.wait(60) is not None
    for turn in panel.turns:
        you, answer = turn.widget.children
        assert "You" in you.value and "dbchat-user" in you._dom_classes
        assert LLAMA in answer.children[0].value and "dbchat-assistant" in answer._dom_classes
        assert turn.view.status.layout.display == "none"  # no "✓ done" under every answer
        assert "tokens" in turn.view.footer.value  # the metrics, small, per answer


def test_the_transcript_holds_questions_answers_and_metrics(panel: ChatPanel) -> None:
    panel.ask("What drove revenue?")
    result = panel.wait(60)
    assert result is not None and result.ok
    bundle = panel.transcript()
    plain, markup = bundle["text/plain"], bundle["text/html"]
    assert "1 question" in plain and "You: What drove revenue?" in plain
    assert f"{LLAMA}: {result.text}" in plain and "tokens" in plain
    assert 'class="dbchat-transcript"' in markup and "What drove revenue?" in markup
    assert "tok/s" in markup and LLAMA in markup


def test_the_transcript_draws_charts_as_images(live: Simulator) -> None:
    pd = pytest.importorskip("pandas")
    live.script("revenue chart", '```json\n{"widget": "chart", "data": "sales", "mark": "bar", '
                '"x": {"field": "region", "type": "nominal"}, '
                '"y": {"field": "revenue", "type": "quantitative"}}\n```\n')
    sales = pd.DataFrame({"region": ["EU", "US"], "revenue": [5.0, 3.0]})
    panel = ChatPanel(list_endpoints=False, namespace={"sales": sales})
    panel.ask("Draw the revenue chart")
    assert panel.wait(60) is not None
    bundle = panel.transcript()
    markup = bundle["text/html"]
    assert '<img alt="' in markup and "data:image/svg+xml;base64," in markup
    assert "<dbchat chart>" in bundle["text/plain"]
    panel.close()


def test_outside_text_in_the_transcript_is_inert(live: Simulator) -> None:
    live.script("hostile", "<script>alert(1)</script><img src=x onerror=alert(2)> **bold**")
    panel = ChatPanel(list_endpoints=False, namespace={})
    panel.ask("hostile <script>alert(3)</script><b onclick=alert(4)>x</b>")
    assert panel.wait(60) is not None
    markup = panel.transcript()["text/html"]
    assert "<script" not in markup.lower() and "&lt;script&gt;alert(3)" in markup
    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", markup, re.I)  # no tag has an event handler
    assert "<strong>bold</strong>" in markup  # the answer's Markdown still renders
    panel.close()


def test_a_named_conversation_shows_its_earlier_turns(live: Simulator) -> None:
    first = ChatPanel(list_endpoints=False, namespace={}, conversation="i13-shared")
    try:
        first.ask("asked in the first panel")
        asked = first.wait(60)
        assert asked is not None and asked.ok
        second = ChatPanel(list_endpoints=False, namespace={}, conversation="i13-shared")
        assert [t.question for t in second.turns] == ["asked in the first panel"]
        assert second.turns[0].result is asked and second.history.children
        assert "asked in the first panel" in second.transcript()["text/plain"]
        second.ask("and a follow-up")
        assert second.wait(60) is not None
        roles = [m["role"] for m in live.stats.last_body["messages"]]
        assert roles == ["system", "user", "assistant", "user"]  # the history went with it
        second.close()
        first.close()
    finally:
        _forget_all(["i13-shared"])


def test_the_transcript_output_is_off_on_databricks(live: Simulator,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert ChatPanel(list_endpoints=False, namespace={}).keep_transcript
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "18.0")
    assert not ChatPanel(list_endpoints=False, namespace={}).keep_transcript
    assert ChatPanel(list_endpoints=False, namespace={}, transcript=True).keep_transcript
