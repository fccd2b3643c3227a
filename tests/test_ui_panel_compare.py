"""The ChatPanel's compare mode (issue 14 item 2): ⚙ "compare with" sends one question to several
endpoints at once, each answer streaming into its own column of the turn, one Stop for all, a
table per turn; the answers stay out of the conversation. Against the simulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dbchat_magic.session import CompareResult
from dbchat_magic.simulator import CLAUDE, LLAMA, Gate, Simulator
from dbchat_magic.ui import ChatPanel
from dbchat_magic.ui._panel_turn import COMPARE_NOTE, PanelCompareTurn
from ui_helpers import walk
from waiting import WAIT, wait_until

pytest.importorskip("ipywidgets")


def _answers_by_endpoint(request: Any) -> str:
    return f"{request.endpoint} says: {request.last_user_message[-40:]}"


@pytest.fixture
def two(live: Simulator) -> Iterator[Simulator]:
    """The simulator answering each endpoint differently."""
    live.responder = _answers_by_endpoint
    yield live
    live.responder = None


@pytest.fixture
def panel(two: Simulator) -> Iterator[ChatPanel]:
    made = ChatPanel(list_endpoints=False, namespace={})
    made.settings.set_endpoint_names([LLAMA, CLAUDE])
    yield made
    made.close()


def _text(view: Any) -> str:
    outputs = view.answer.outputs
    return outputs[0]["data"]["text/plain"] if outputs else ""


def test_compare_with_offers_the_endpoints_and_the_send_button_says_so(panel: ChatPanel) -> None:
    values = [value for _label, value in panel.settings.compare.options]
    assert values == [LLAMA, CLAUDE]
    assert panel.settings.compare_targets() == []  # nothing picked: one answer, as usual
    panel.settings.compare.value = (CLAUDE,)
    assert panel.settings.compare_targets() == [LLAMA, CLAUDE]  # the current endpoint first
    assert panel.send_button.description == "Send to 2"
    assert "compare mode" in panel.settings.note.value and CLAUDE in panel.settings.note.value
    panel.settings.compare.value = (LLAMA,)  # only the current one: no compare
    assert panel.settings.compare_targets() == [] and panel.send_button.description == "Send"
    panel.settings.set_endpoint_names([LLAMA, CLAUDE, "third-chat"])  # a refill keeps the choice
    panel.settings.compare.value = (CLAUDE,)
    panel.settings.set_endpoint_names([LLAMA, CLAUDE, "fourth-chat"])
    assert panel.settings.compare.value == (CLAUDE,)
    assert panel.send_button.description == "Send to 2"
    assert "compare mode off" not in panel.settings.note.value  # a refill says nothing


def test_one_question_streams_into_a_column_per_endpoint_then_a_table(panel: ChatPanel,
                                                                      two: Simulator) -> None:
    two.reset_stats()
    panel.settings.compare.value = (CLAUDE,)
    assert panel.ask("Which of you is faster?") is not None
    result = panel.wait(60)
    assert isinstance(result, CompareResult) and len(result) == 2
    assert [r.status for r in result] == ["completed", "completed"]
    assert two.stats.requests_by_endpoint == {LLAMA: 1, CLAUDE: 1}
    turn = panel.turns[-1]
    assert isinstance(turn, PanelCompareTurn) and turn.columns is not None
    texts = [_text(view) for view in turn.columns.views]
    assert texts == [f"{LLAMA} says: Which of you is faster?",
                     f"{CLAUDE} says: Which of you is faster?"]
    assert turn.columns.widget in walk(turn.widget)  # the columns sit inside the turn's bubble
    assert all("tokens" in view.footer.value for view in turn.columns.views)
    table = turn.table.value
    assert "dbchat-compare-table" in table and table.count("<tr>") == 3  # head + one per endpoint
    assert "tok/s" in table and "first token" in table and "cost" in table
    assert COMPARE_NOTE.split(":")[0] in table
    assert not panel.send_button.disabled and panel.stop_button.disabled


def test_compare_answers_stay_out_of_the_conversation(panel: ChatPanel, two: Simulator) -> None:
    panel.settings.compare.value = (CLAUDE,)
    panel.ask("compared once")
    assert isinstance(panel.wait(60), CompareResult)
    assert len(panel.session.conversation) == 0
    panel.settings.compare.value = ()
    panel.ask("now one endpoint")
    answer = panel.wait(60)
    assert answer is not None and not isinstance(answer, CompareResult) and answer.ok
    assert [m["role"] for m in two.stats.last_body["messages"]] == ["system", "user"]
    assert [r.endpoint for r in panel.results] == [LLAMA, CLAUDE, LLAMA]


def test_one_stop_stops_every_column(panel: ChatPanel, two: Simulator) -> None:
    two.responder = None  # the default 60-token replies, held mid-way until the Stop
    gate = Gate(after_tokens=10)
    two.set_pacing(gate=gate)
    panel.settings.compare.value = (CLAUDE,)
    try:
        run = panel.ask("a long story from both")
        assert run is not None and not isinstance(run, type(None))
        wait_until(lambda: all(h.result.text for h in run.handles), "both columns to stream")
        assert not panel.stop_button.disabled
        panel.stop_button.click()
        result = panel.wait(WAIT)
    finally:
        gate.open()
    assert isinstance(result, CompareResult)
    assert [r.status for r in result] == ["stopped", "stopped"]
    turn = panel.turns[-1]
    assert isinstance(turn, PanelCompareTurn) and turn.columns is not None
    for view, answer in zip(turn.columns.views, result, strict=True):
        assert _text(view) == answer.text  # the partial answers stay
        assert "■ stopped after" in view.status.value and "dbchat-amber" in view.status.value
        assert view.status.layout.display != "none"  # the amber line is shown, once
    assert "stopped" in turn.table.value


def test_the_transcript_keeps_the_columns_and_the_table(panel: ChatPanel) -> None:
    panel.settings.compare.value = (CLAUDE,)
    panel.ask("side by side please")
    result = panel.wait(60)
    assert isinstance(result, CompareResult)
    bundle = panel.transcript()
    markup, plain = bundle["text/html"], bundle["text/plain"]
    assert markup.count("dbchat-compare-column") == 2 and "dbchat-compare-table" in markup
    assert f"{CLAUDE} says: side by side please" in markup
    assert result.table_text() in plain and f"── {LLAMA} ──" in plain


def test_more_than_six_endpoints_are_refused_with_a_reason(panel: ChatPanel) -> None:
    names = [f"model-{n}" for n in range(6)]
    panel.settings.set_endpoint_names([LLAMA, *names])
    panel.settings.compare.value = tuple(names)
    assert "at most 6" in panel.settings.note.value
    assert panel.ask("to seven endpoints") is None
    assert "compare takes 2 to 6" in panel.note.value and panel.turns == []


def test_a_compare_turn_leaves_the_window_and_comes_back_settled(two: Simulator) -> None:
    panel = ChatPanel(list_endpoints=False, namespace={}, visible_turns=1)
    panel.settings.set_endpoint_names([LLAMA, CLAUDE])
    panel.settings.compare.value = (CLAUDE,)
    panel.ask("first, compared")
    compared = panel.wait(60)
    panel.settings.compare.value = ()
    panel.ask("second, alone")
    panel.wait(60)
    turn = panel.turns[0]
    assert isinstance(turn, PanelCompareTurn) and turn.widget is None  # released: data only
    panel.show_earlier()
    assert turn.widget is not None and turn.columns is not None
    assert [_text(v) for v in turn.columns.views] == [r.text for r in compared or ()]
    assert "dbchat-compare-table" in turn.table.value
    panel.close()


def test_a_failing_column_fails_alone_and_outside_names_stay_text(panel: ChatPanel) -> None:
    hostile = "<b>x<b>&amp;"  # an endpoint name from the workspace list is outside text
    panel.settings.set_endpoint_names([LLAMA, hostile])
    panel.settings.compare.value = (hostile,)
    assert panel.ask("one good, one unknown") is not None
    result = panel.wait(60)
    assert isinstance(result, CompareResult)
    assert [r.status for r in result] == ["completed", "failed"]  # the simulator: 404
    turn = panel.turns[-1]
    assert isinstance(turn, PanelCompareTurn) and turn.columns is not None
    good, bad = turn.columns.views
    assert _text(good) and "dbchat-red" in bad.error.value  # the reason, in red, in its column
    shown = [turn.widget.children[1].children[0].value, turn.table.value,
             panel.settings.note.value, panel.transcript()["text/html"]]
    assert all("<b>x" not in markup for markup in shown)
    assert all("&lt;b&gt;x&lt;b&gt;&amp;amp;" in markup for markup in shown)


def test_compare_turns_leave_no_widget_behind(two: Simulator) -> None:
    from dbchat_magic.ui._widget_lifetime import live_widgets

    before = set(live_widgets())
    panel = ChatPanel(list_endpoints=False, namespace={}, visible_turns=1)
    panel.settings.set_endpoint_names([LLAMA, CLAUDE])
    panel.settings.compare.value = (CLAUDE,)
    counts = []
    for i in range(3):
        panel.ask(f"compared {i}")
        assert isinstance(panel.wait(60), CompareResult)
        counts.append(len(live_widgets()))
    assert counts[0] == counts[1] == counts[2], counts  # a hidden compare turn keeps no widgets
    panel.close()
    assert set(live_widgets()) - before == set()
