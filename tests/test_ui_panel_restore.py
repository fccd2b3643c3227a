"""A panel opened on a named conversation that is new in this process (as after a kernel restart)
restores its logged turns from the history log — the same `Session.restore` as ``-c NAME`` — shows
them as bubbles, and sends them as history with the next question (issue 13 item 2). With logging
off it says once why the conversation starts empty."""

from __future__ import annotations

from html import unescape

import pytest

from dbchat_magic.config import Settings
from dbchat_magic.conversation import _forget_all, get_conversation
from dbchat_magic.simulator import Simulator
from dbchat_magic.ui import ChatPanel
from ui_helpers import walk

pytest.importorskip("ipywidgets")


def _note(panel: ChatPanel) -> str:
    return unescape(panel.note.value)


def _bubbles(panel: ChatPanel) -> str:
    return " ".join(str(getattr(w, "value", "")) for w in walk(panel.history)
                    if "dbchat-user" in getattr(w, "_dom_classes", ()))


def test_a_logged_conversation_comes_back_as_bubbles_and_history(live: Simulator) -> None:
    first = ChatPanel(list_endpoints=False, namespace={}, conversation="r13-sales")
    answers = []
    for question in ("Which region sold most?", "And the least?"):
        first.ask(question)
        result = first.wait(60)
        assert result is not None and result.ok
        answers.append(result.text)
    first.close()
    _forget_all(["r13-sales"])  # what a kernel restart does to the conversation registry
    try:
        panel = ChatPanel(list_endpoints=False, namespace={}, conversation="r13-sales")
        assert [t.question for t in panel.turns] == ["Which region sold most?", "And the least?"]
        bubbles = _bubbles(panel)
        assert "Which region sold most?" in bubbles and "And the least?" in bubbles
        assert all(t.view is not None and "tokens" in t.view.footer.value for t in panel.turns)
        assert "2 earlier turns of 'r13-sales' restored from the history log" in _note(panel)
        assert "Which region sold most?" in panel.transcript()["text/plain"]
        panel.ask("And in between?")
        assert panel.wait(60) is not None
        sent = [m["content"] for m in live.stats.last_body["messages"]]
        assert sent[1:5] == ["Which region sold most?", answers[0], "And the least?", answers[1]]
        assert sent[-1].endswith("And in between?")
        assert panel.note.value == ""  # said once, then gone with the first question
        panel.close()
    finally:
        _forget_all(["r13-sales"])


def test_a_conversation_open_in_this_process_is_not_restored_twice(live: Simulator) -> None:
    first = ChatPanel(list_endpoints=False, namespace={}, conversation="r13-twice")
    try:
        first.ask("only once")
        assert first.wait(60) is not None
        second = ChatPanel(list_endpoints=False, namespace={}, conversation="r13-twice")
        assert [t.question for t in second.turns] == ["only once"]
        assert "restored" not in second.note.value  # it was here already, not from the log
        assert len(get_conversation("r13-twice")) == 1
        second.close()
        first.close()
    finally:
        _forget_all(["r13-twice"])


def test_with_logging_off_the_panel_says_why_it_starts_empty(live: Simulator) -> None:
    first = ChatPanel(list_endpoints=False, namespace={}, conversation="r13-off")
    first.ask("logged before logging was turned off")
    assert first.wait(60) is not None
    first.close()
    _forget_all(["r13-off"])
    Settings.load().replace(history_log=False).save()
    try:
        panel = ChatPanel(list_endpoints=False, namespace={}, conversation="r13-off")
        assert panel.turns == []  # the log is not read while logging is off
        assert "history logging is off" in _note(panel)
        assert "'r13-off' starts empty after a kernel restart" in _note(panel)
        unnamed = ChatPanel(list_endpoints=False, namespace={})  # nothing to restore: no note
        assert unnamed.note.value == ""
        panel.close()
        unnamed.close()
    finally:
        _forget_all(["r13-off"])


def test_the_default_conversation_is_never_restored(live: Simulator) -> None:
    first = ChatPanel(list_endpoints=False, namespace={}, conversation="default")
    first.ask("asked in the default conversation")
    assert first.wait(60) is not None
    first.close()
    _forget_all(["default"])
    try:
        panel = ChatPanel(list_endpoints=False, namespace={}, conversation="default")
        assert panel.turns == [] and panel.note.value == ""  # unnamed cells share it
        panel.close()
    finally:
        _forget_all(["default"])


def test_a_restored_chart_answer_says_the_log_keeps_no_drawing(live: Simulator) -> None:
    pd = pytest.importorskip("pandas")
    live.script("revenue chart", '```json\n{"widget": "chart", "data": "sales", "mark": "bar", '
                '"x": {"field": "region", "type": "nominal"}, '
                '"y": {"field": "revenue", "type": "quantitative"}}\n```\n')
    sales = pd.DataFrame({"region": ["EU", "US"], "revenue": [5.0, 3.0]})
    first = ChatPanel(list_endpoints=False, namespace={"sales": sales}, conversation="r13-chart")
    first.ask("Draw the revenue chart")
    drawn = first.wait(60)
    assert drawn is not None and drawn.extras.get("specs")
    first.close()
    _forget_all(["r13-chart"])
    try:
        panel = ChatPanel(list_endpoints=False, namespace={}, conversation="r13-chart")
        assert [t.question for t in panel.turns] == ["Draw the revenue chart"]
        assert "1 earlier turn of 'r13-chart' restored" in _note(panel)
        assert "charts are not kept there: ask again to draw them" in _note(panel)
        panel.close()
    finally:
        _forget_all(["r13-chart"])


def test_the_magic_s_panel_on_a_chat_restores_it_the_same_way(live: Simulator) -> None:
    """``%dbchat panel -c NAME`` opens ``ChatPanel(session=get_session(NAME))``."""
    from dbchat_magic.session import _pipeline, get_session

    first = ChatPanel(list_endpoints=False, namespace={}, conversation="r13-magic")
    first.ask("asked before the restart")
    assert first.wait(60) is not None
    first.close()
    _forget_all(["r13-magic"])
    try:
        panel = ChatPanel(list_endpoints=False, namespace={}, session=get_session("r13-magic"))
        assert [t.question for t in panel.turns] == ["asked before the restart"]
        assert "1 earlier turn of 'r13-magic' restored from the history log" in _note(panel)
        assert get_session("r13-magic").notes == []  # shown by the panel, not again by a cell
        panel.close()
    finally:
        _forget_all(["r13-magic"])
        _pipeline._sessions.pop("r13-magic", None)
