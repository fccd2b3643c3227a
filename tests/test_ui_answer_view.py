"""The widget AnswerView without a frontend: throttled one-entry renders, Stop, finish, settling."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from dbchat_magic.errors import EndpointNotFound
from dbchat_magic.result import ChatResult, Metrics, Usage
from dbchat_magic.ui import make_answer_view
from dbchat_magic.ui._answer_view import STOP_HINT, WidgetAnswerView
from dbchat_magic.ui._environment import ipywidgets_major
from dbchat_magic.ui._settled import SettledLine, SpecOutput
from dbchat_magic.ui._text_view import TextAnswerView
from ui_helpers import CommRecorder, all_state
from waiting import WAIT, wait_until

ipywidgets = pytest.importorskip("ipywidgets")


def _view(**kw: Any) -> WidgetAnswerView:
    kw.setdefault("endpoint", "databricks-llama")
    kw.setdefault("on_stop", None)
    kw.setdefault("stop_mode", "button")
    return make_answer_view(mode="widget", **kw)  # type: ignore[return-value]


def _stream(view: WidgetAnswerView, tokens: int, seconds: float,
            renders: CommRecorder | None = None, every: int = 0) -> ChatResult:
    """Feed ``tokens`` deltas over ``seconds`` from a background thread, like the runner does;
    with ``renders``, wait after each ``every`` tokens until the view has rendered them (so a
    starved timer thread cannot make the stream outrun every render)."""
    result = ChatResult(endpoint="databricks-llama")

    def shown(text: str) -> bool:
        return any(o and o[0]["data"]["text/plain"] == text for o in _outputs(renders, view))

    def produce() -> None:
        pause = seconds / tokens
        for i in range(tokens):
            result.status = "streaming"
            result.text += f"tok{i} "
            view.update(result)
            if renders is not None and every and (i + 1) % every == 0:
                wait_until(lambda text=result.text: shown(text), f"a render of {i + 1} tokens")
            time.sleep(pause)

    worker = threading.Thread(target=produce)
    worker.start()
    worker.join()
    return result


def _outputs(recorder: CommRecorder | None, view: WidgetAnswerView) -> list[Any]:
    """Every outputs list the answer widget was sent."""
    msgs = recorder.for_widget(view.answer) if recorder is not None else []
    return [m["state"]["outputs"] for m in msgs if "outputs" in m.get("state", {})]


def test_root_has_a_stable_plain_repr() -> None:
    view = _view()
    assert repr(view.widget) == "<dbchat answer>"
    if ipywidgets_major() == 8:
        assert view.widget._repr_mimebundle_()["text/plain"] == "<dbchat answer>"


def test_streaming_replaces_one_entry_and_stays_under_ten_updates_per_second() -> None:
    view = _view()
    recorder = CommRecorder(view.widget)
    result = _stream(view, tokens=400, seconds=1.5, renders=recorder, every=80)
    # every message replaces the whole outputs list with exactly one entry
    outputs = _outputs(recorder, view)
    assert outputs and all(len(o) == 1 for o in outputs)
    assert len(outputs) >= 5, "several distinct intermediate renders"
    assert len({o[0]["data"]["text/plain"] for o in outputs}) == len(outputs)
    assert recorder.max_per_second() <= 10
    view.finish(_completed(result))
    assert view.answer.outputs[0]["data"]["text/plain"] == result.text


def test_a_two_thousand_token_answer_with_its_final_render_stays_within_ten_a_second() -> None:
    view = _view()
    recorder = CommRecorder(view.widget)
    started = time.monotonic()
    view.finish(_completed(_stream(view, tokens=2000, seconds=2.0)), settle=True)
    elapsed = time.monotonic() - started
    assert recorder.max_per_second() <= 10
    assert len(recorder.messages) <= 10 * elapsed + 2


def test_last_delta_is_rendered_by_the_trailing_render() -> None:
    view = _view()
    result = ChatResult(endpoint="e", status="streaming")
    for piece in ("a", "b", "c"):
        result.text += piece
        view.update(result)
    shown = lambda: view.answer.outputs and view.answer.outputs[0]["data"]["text/plain"]  # noqa: E731
    wait_until(lambda: shown() == "abc", "the trailing render of the last delta")


def test_concurrent_updates_and_finish_do_not_break() -> None:
    view = _view()
    result = ChatResult(endpoint="e", status="streaming")
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            result.text += "x"
            view.update(result)

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    final = _completed(ChatResult(endpoint="e", text="final"))
    view.finish(final, settle=False)
    stop.set()
    for w in workers:
        w.join()
    time.sleep(view._throttle.interval * 2)
    assert view._throttle.last_error is None
    assert view.answer.outputs[0]["data"]["text/plain"] == "final"
    assert view.status.value.endswith("done")


def test_reasoning_is_collapsible_and_hidden_until_it_arrives() -> None:
    view = _view()
    assert view.reasoning.layout.display == "none"
    result = ChatResult(endpoint="e", status="streaming", reasoning="Let me think")
    view.update(result)
    assert view.reasoning.layout.display is None
    assert view.reasoning.selected_index is None  # collapsed
    assert view.reasoning_out.outputs[0]["data"]["text/plain"] == "Let me think"


def test_steps_section_appears_collapsed_with_the_first_tool_step() -> None:
    from dbchat_magic.events import ToolStep

    view = _view()
    assert view.steps is None and len(view.widget.children) == 6  # no extra widgets
    call = ToolStep("call", "lookup_order", '{"order_id": 7}', "c1")
    view.update(ChatResult(endpoint="e", status="streaming", steps=[call]))
    assert view.widget.children[2] is view.steps and view.steps.selected_index is None
    [entry] = [o for o in view.steps.children[0].outputs if "steps (1)" in o["data"]["text/html"]]
    assert entry["data"]["text/plain"] == "step: call lookup_order(order_id=7)"


def test_stop_button_calls_on_stop_once_and_disables_itself() -> None:
    calls: list[int] = []
    view = _view(on_stop=lambda: calls.append(1))
    assert view.stop_button is not None and not view.hint
    view.stop_button.click()
    view.stop_button.click()
    assert calls == [1]
    assert view.stop_button.disabled


def test_hint_mode_has_no_dead_button() -> None:
    view = _view(on_stop=lambda: None, stop_mode="hint")
    assert view.stop_button is None
    assert STOP_HINT in view.status.value
    view.finish(_completed(ChatResult(endpoint="e", text="x")))
    assert STOP_HINT not in view.status.value


def test_failed_answer_keeps_partial_text_and_says_what_to_do() -> None:
    view = _view()
    result = ChatResult(endpoint="nope", text="partial answer", status="failed",
                        error="Endpoint with name 'nope' does not exist.",
                        error_kind="EndpointNotFound", error_hint=EndpointNotFound.hint)
    view.finish(result, settle=False)
    assert "`%dbchat endpoints` lists yours" in view.error.value  # the one red outcome line
    assert "dbchat-red" in view.error.value and view.status.value == ""
    assert view.answer.outputs[0]["data"]["text/plain"] == "partial answer"
    settled = view.settled_outputs(result)
    assert settled[0].text == "partial answer"
    assert any("does not exist" in repr(item) for item in settled)


def test_settle_shrinks_the_live_view_to_its_status() -> None:
    view = _view(on_stop=lambda: None)
    result = _completed(ChatResult(endpoint="databricks-llama", text="**42**"))
    view.finish(result)
    assert view.answer.layout.display == "none"
    assert view.footer.value == "" and view.error.value == ""
    assert view.stop_button.layout.display == "none"
    assert view.status.value.endswith("done")
    settled = view.settled_outputs(result)
    assert [type(s).__name__ for s in settled] == ["AnswerOutput", "SettledLine"]
    assert settled[0].text == "**42**" and settled[0].html == "<p><strong>42</strong></p>\n"
    assert repr(settled[1]) == ("first token 120 ms · total 1.5 s · 60 tokens · 40.0 tok/s · "
                                "databricks-llama")


def test_updates_after_finish_are_ignored() -> None:
    view = _view()
    result = _completed(ChatResult(endpoint="e", text="done text"))
    view.finish(result, settle=False)
    view.update(ChatResult(endpoint="e", text="late", status="streaming"))
    time.sleep(view._throttle.interval * 2)
    assert view.answer.outputs[0]["data"]["text/plain"] == "done text"


@dataclass
class _Rendered:
    """The shape of specs.RenderedSpec (kind, mimebundle, notes, errors)."""

    kind: str
    mimebundle: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def test_specs_render_in_view_and_settle_with_stable_plain_text() -> None:
    view = _view()
    result = _completed(ChatResult(endpoint="e", text="See the chart."))
    result.extras["specs"] = [
        _Rendered("chart", {"image/svg+xml": "<svg/>"}, notes=["aggregated 5,000,000 rows"]),
        _Rendered("table", {}, errors=["$.data: frame 'dfx' not found"]),
    ]
    result.extras["repaired"] = True
    result.extras["repair"] = {"errors_before": ['x.field: no column "porduct" in sales; '
                                                 'did you mean "product"?']}
    view.finish(result, settle=False)
    shown = [o["data"] for o in view.specs.outputs]
    assert shown[0]["image/svg+xml"] == "<svg/>" and shown[0]["text/plain"] == "<dbchat chart>"
    texts = [d.get("text/plain", "") for d in shown]
    assert "note: aggregated 5,000,000 rows" in texts
    assert "chart not drawn: $.data: frame 'dfx' not found" in texts
    assert ('note: the chart shows the repaired spec (fixed: x.field: no column "porduct" in '
            'sales; did you mean "product"?); the JSON above is as the model first wrote it'
            ) in texts
    settled = view.settled_outputs(result)
    assert isinstance(settled[1], SpecOutput) and isinstance(settled[-1], SettledLine)


def test_pending_status_ticks_elapsed_time() -> None:
    view = _view()
    view.update(ChatResult(endpoint="e"))
    first = view.status.value
    assert "thinking" in first
    wait_until(lambda: view.status.value != first, "the thinking clock to tick")
    assert "thinking" in view.status.value
    view.finish(_completed(ChatResult(endpoint="e", text="ok")))


def test_first_tokens_are_not_held_back_by_the_thinking_clock(monkeypatch) -> None:
    """The "thinking…" tick must not swallow the first token's render: with the tick 10 min
    away, the first words still show (the wait ends long before the tick could come)."""
    monkeypatch.setattr("dbchat_magic.ui._answer_view.TICK_SECONDS", 10 * WAIT)
    view = _view()
    result = ChatResult(endpoint="e")
    view.update(result)  # pending: renders now and arms the (here 10 min) clock tick
    time.sleep(0.2)
    result.status = "streaming"
    result.text = "first words"
    view.update(result)
    wait_until(lambda: view.answer.outputs, "the first token to render (not held by the tick)")
    view.finish(_completed(result))


def test_a_planted_secret_never_enters_widget_state() -> None:
    view = _view(on_stop=lambda: None)
    result = _completed(ChatResult(endpoint="e", text="hello"))
    view.finish(result, settle=False)
    assert "dapi-secret" not in all_state(view.widget)


def test_auto_mode_outside_a_kernel_is_text() -> None:
    view = make_answer_view(endpoint="e", on_stop=None, stop_mode="hint")
    assert isinstance(view, TextAnswerView)


def _completed(result: ChatResult) -> ChatResult:
    result.status = "completed"
    result.usage = Usage(prompt_tokens=20, completion_tokens=60, total_tokens=80)
    result.metrics = Metrics(time_to_first_token=0.12, total_time=1.5, tokens_per_second=40.0)
    return result
