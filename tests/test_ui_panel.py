"""ChatPanel against the simulator over real loopback HTTP: ask, stream, stop, settings, history."""

from __future__ import annotations

import pytest

from dbchat_magic.config import Settings
from dbchat_magic.simulator import (
    CLAUDE,
    EMBEDDINGS,
    LLAMA,
    NOT_READY,
    REASONING,
    Gate,
    Simulator,
    tokenize,
)
from dbchat_magic.ui import ChatPanel
from ui_helpers import all_state
from waiting import WAIT, wait_until

pytest.importorskip("ipywidgets")


def _text(turn_view: object) -> str:
    outputs = turn_view.answer.outputs  # type: ignore[attr-defined]
    return outputs[0]["data"]["text/plain"] if outputs else ""


def _html(turn_view: object) -> str:
    outputs = turn_view.answer.outputs  # type: ignore[attr-defined]
    return outputs[0]["data"]["text/html"] if outputs else ""


def test_panel_repr_is_stable() -> None:
    panel = ChatPanel(list_endpoints=False, namespace={})
    assert repr(panel) == repr(panel.widget) == "<dbchat panel>"


def test_ask_streams_an_answer_with_metrics(live: Simulator) -> None:
    panel = ChatPanel(namespace={})
    assert panel.ask("What is the total revenue?") is not None
    assert panel.send_button.disabled and not panel.stop_button.disabled
    result = panel.wait(60)
    assert result is not None and result.status == "completed", result.error
    assert result.text.startswith("Simulated answer to 'What is the total revenue?'")
    view = panel.turns[-1].view
    assert _text(view) == result.text
    assert LLAMA in view.footer.value
    assert "tokens" in view.footer.value
    assert not panel.send_button.disabled and panel.stop_button.disabled
    assert live.stats.requests_by_endpoint.get(LLAMA) == 1


def test_follow_up_sends_the_history(live: Simulator) -> None:
    panel = ChatPanel(list_endpoints=False, namespace={})
    panel.ask("first question")
    panel.wait(60)
    panel.ask("second question")
    second = panel.wait(60)
    assert second is not None and second.ok
    roles = [m["role"] for m in live.stats.last_body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert len(panel.session.conversation.turns) == 2


def test_send_button_takes_the_input_box(live: Simulator) -> None:
    panel = ChatPanel(list_endpoints=False, namespace={})
    panel.input.value = "typed question"
    panel.send_button.click()
    assert panel.input.value == ""
    result = panel.wait(60)
    assert result is not None and "typed question" in result.text


def test_a_settings_change_applies_to_the_next_question(live: Simulator) -> None:
    panel = ChatPanel(list_endpoints=False, namespace={})
    panel.settings.temperature.value = 0.75
    panel.settings.max_tokens.value = 77
    panel.ask("hello")
    panel.wait(60)
    body = live.stats.last_body
    assert body["temperature"] == pytest.approx(0.75) and body["max_tokens"] == 77
    panel.settings.endpoint.options = [*panel.settings.endpoint.options,
                                       (CLAUDE, ("endpoint", CLAUDE))]
    panel.settings.endpoint.value = ("endpoint", CLAUDE)
    panel.ask("hello again")
    result = panel.wait(60)
    assert result is not None and result.endpoint == CLAUDE
    assert live.stats.requests_by_endpoint.get(CLAUDE) == 1


def test_endpoint_dropdown_is_filled_from_the_workspace(live: Simulator) -> None:
    panel = ChatPanel(namespace={})
    assert panel.settings.endpoints_settled.wait(30)
    labels = [label for label, _ in panel.settings.endpoint.options]
    assert LLAMA in labels and CLAUDE in labels
    assert EMBEDDINGS not in labels  # not a chat endpoint
    assert f"{NOT_READY} (not ready)" in labels


def test_stop_keeps_the_partial_answer_and_closes_the_connection(live: Simulator) -> None:
    gate = Gate(after_tokens=10)  # held mid-way: the answer cannot end before the Stop
    live.set_pacing(gate=gate)
    live.reset_stats()
    panel = ChatPanel(list_endpoints=False, namespace={})
    try:
        handle = panel.ask("tell me a long story")
        assert handle is not None
        wait_until(lambda: len(handle.result.text) >= 20, "20 characters of the answer")
        panel.stop_button.click()
        result = panel.wait(WAIT)
        [gone] = wait_until(lambda: live.stats.disconnects, "the simulator to see the close")
    finally:
        gate.open()
    assert result is not None and result.status == "stopped"
    assert len(result.text) >= 20
    assert len(tokenize(result.text)) < 60  # shorter than the full 60-token reply
    assert gone.tokens_sent == gate.after_tokens  # closed while held
    view = panel.turns[-1].view
    assert "■ stopped after" in view.status.value and "partial answer kept" in view.status.value
    assert "dbchat-amber" in view.status.value and view.error.value == ""  # one line, amber
    assert view.status.layout.display != "none", "the panel hides the stopped line"
    assert _text(view) == result.text  # partial answer stays visible


def test_a_second_question_while_streaming_is_refused(live: Simulator) -> None:
    gate = Gate(after_tokens=3)  # the first answer is still streaming when the second comes
    live.set_pacing(gate=gate)
    panel = ChatPanel(list_endpoints=False, namespace={})
    try:
        assert panel.ask("slow one") is not None
        assert panel.ask("impatient") is None
        assert "still streaming" in panel.note.value
        panel.stop()
        panel.wait(WAIT)
    finally:
        gate.open()
    assert len(panel.turns) == 1


def test_a_missing_endpoint_fails_with_a_next_step(live: Simulator) -> None:
    Settings.load().replace(endpoint="no-such-endpoint").save()
    panel = ChatPanel(list_endpoints=False, namespace={})
    panel.ask("hello")
    result = panel.wait(60)
    assert result is not None and result.status == "failed"
    view = panel.turns[-1].view
    assert "%dbchat endpoints" in view.error.value and "no-such-endpoint" in view.error.value


def test_only_the_last_turns_are_rendered(live: Simulator) -> None:
    panel = ChatPanel(list_endpoints=False, namespace={}, visible_turns=2)
    for i in range(3):
        panel.ask(f"question {i}")
        panel.wait(60)
    children = panel.history.children
    assert children[0] is panel.earlier and len(children) == 3
    assert "1 earlier" in panel.earlier.description
    assert children[1] is panel.turns[1].widget and children[2] is panel.turns[2].widget
    panel.earlier.click()
    assert list(panel.history.children) == [t.widget for t in panel.turns]
    assert len(panel.results) == 3


def test_panels_are_independent(live: Simulator) -> None:
    one = ChatPanel(list_endpoints=False, namespace={})
    two = ChatPanel(list_endpoints=False, namespace={})
    one.ask("only in one")
    one.wait(60)
    assert len(one.session.conversation.turns) == 1
    assert len(two.session.conversation.turns) == 0


def test_the_token_never_enters_widget_state(live: Simulator) -> None:
    panel = ChatPanel(namespace={})
    panel.ask("hello")
    panel.wait(60)
    assert live.token and live.token not in all_state(panel.widget)


def test_a_chart_spec_in_the_answer_is_rendered_in_the_turn(live: Simulator) -> None:
    pd = pytest.importorskip("pandas")
    spec = ('Revenue by region:\n\n```json\n{"widget": "chart", "data": "sales", "mark": "bar", '
            '"x": {"field": "region", "type": "nominal"}, '
            '"y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}\n```\n')
    live.script("revenue chart", spec)
    sales = pd.DataFrame({"region": ["EU", "US", "EU", "APAC"], "revenue": [5.0, 3.0, 2.0, 1.0]})
    panel = ChatPanel(list_endpoints=False, namespace={"sales": sales})
    panel.ask("Draw the revenue chart by region")
    result = panel.wait(60)
    assert result is not None and result.ok, result.error
    rendered = result.extras.get("specs")
    assert rendered and not rendered[0].errors, rendered
    bundles = [o["data"] for o in panel.turns[-1].view.specs.outputs]
    print({k: str(v)[:80] for k, v in bundles[0].items()})
    assert "image/svg+xml" in bundles[0] and "<svg" in bundles[0]["image/svg+xml"]
    assert "EU" in bundles[0]["image/svg+xml"]  # the data went through the chart
    answer = _html(panel.turns[-1].view)
    assert "Revenue by region" in answer and "<details>" in answer  # the JSON is folded away


def test_reasoning_shows_in_a_collapsed_section(live: Simulator) -> None:
    Settings.load().replace(endpoint=REASONING).save()
    panel = ChatPanel(list_endpoints=False, namespace={})
    panel.ask("why did churn rise?")
    result = panel.wait(60)
    assert result is not None and result.ok and result.reasoning
    view = panel.turns[-1].view
    assert view.reasoning.layout.display is None and view.reasoning.selected_index is None
    assert view.reasoning_out.outputs[0]["data"]["text/plain"] == result.reasoning
    assert result.reasoning not in _text(view)


def test_a_persona_change_changes_the_next_system_prompt(live: Simulator) -> None:
    panel = ChatPanel(list_endpoints=False, namespace={})
    panel.ask("first")
    panel.wait(60)
    before = live.stats.last_body["messages"][0]["content"]
    other = next(p for p in panel.settings.persona.options if p != panel.settings.persona.value)
    panel.settings.persona.value = other
    panel.ask("second")
    panel.wait(60)
    after = live.stats.last_body["messages"][0]["content"]
    assert Settings.load().persona == other and after != before


def test_without_credentials_the_panel_opens_and_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    panel = ChatPanel(namespace={})  # the endpoint list fails quietly
    assert panel.settings.endpoints_settled.wait(30)
    assert "unavailable" in panel.settings.note.value
    panel.ask("hello")
    result = panel.wait(30)
    assert result is not None and result.status == "failed"
    assert panel.turns[-1].view.error.value  # a short message, not a traceback
    assert "Traceback" not in panel.turns[-1].view.error.value
    assert not panel.send_button.disabled  # ready for the next try
