"""Specs render under a still-streaming answer as soon as their JSON block closes (simulator,
real loopback HTTP): chart shown before the result is final, JSON folded, rendered once,
≤ 10 updates/s."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dbchat_magic.config import Settings
from dbchat_magic.conversation import Conversation
from dbchat_magic.session import Session
from dbchat_magic.simulator import LLAMA, Gate, tokenize
from dbchat_magic.ui._answer_view import WidgetAnswerView
from ui_helpers import CommRecorder
from waiting import WAIT, wait_until

pytest.importorskip("ipywidgets")
pd = pytest.importorskip("pandas")

CHART = ('{"widget": "chart", "data": "sales", "mark": "bar", '
         '"x": {"field": "region", "type": "nominal"}, '
         '"y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}')
TAIL = " ".join(f"word{i}" for i in range(150))
REPLY = f"Revenue by region:\n\n```json\n{CHART}\n```\n\n{TAIL}\n"


def _held_after_the_chart() -> Gate:
    """A Gate holding the reply a few tokens after its JSON block closed, 150 words before its
    end: what shows live is seen while the answer cannot have ended."""
    tokens = tokenize(REPLY)
    closed = next(i for i in range(len(tokens)) if "".join(tokens[:i]).count("```") == 2)
    return Gate(after_tokens=closed + 3)


@pytest.fixture
def counted_renders(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every spec given to the real `render_spec` (wrapped, not replaced)."""
    from dbchat_magic import specs

    calls: list[Any] = []
    real = specs.render_spec

    def render_spec(spec: Any, *args: Any, **kwargs: Any) -> Any:
        if spec.get("data") == "sales":  # not the once-per-process renderer warm-up
            calls.append(spec)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(specs, "render_spec", render_spec)
    return calls


def _session() -> Session:
    settings = Settings(endpoint=LLAMA)
    return Session(Conversation("live"), settings=lambda: settings)


def _answer_html(view: WidgetAnswerView) -> str:
    outputs = view.answer.outputs
    return outputs[0]["data"]["text/html"] if outputs else ""


def test_chart_shows_under_the_streaming_answer_before_it_ends(env, counted_renders) -> None:
    sales = pd.DataFrame({"region": ["EU", "US", "EU"], "revenue": [1.0, 2.0, 3.0]})
    ns = {"sales": sales}
    env.script("revenue chart", REPLY)
    gate = _held_after_the_chart()
    env.set_pacing(tokens_per_second=60, gate=gate)
    view = WidgetAnswerView(endpoint=LLAMA, on_stop=None, stop_mode="none")
    recorder = CommRecorder(view.widget)
    s = _session()
    try:
        handle = s.start(s.prepare("revenue chart please", None, ns), ns, on_update=view.update)
        wait_until(lambda: view.specs.outputs or handle.done, "the live chart")
        outputs = view.specs.outputs
        seen_live = (handle.result.status, len(handle.result.text), _answer_html(view),
                     dict(outputs[0]["data"])) if outputs else None
    finally:
        gate.open()
    result = handle.wait(WAIT)
    assert result.status == "completed"
    assert seen_live is not None, "the chart appeared only after the answer had ended"
    status, chars, shown, bundle = seen_live
    assert status == "streaming" and chars < len(REPLY) - 200  # many words were still to come
    assert "<svg" in bundle["image/svg+xml"] and "EU" in bundle["image/svg+xml"]
    assert "<details>" in shown and "Revenue by region" in shown  # the JSON folded away
    assert "\"widget\"" not in shown.split("<details>")[0]
    # the final pass reused the live render: one render_spec call, the same object kept
    assert len(counted_renders) == 1
    (final,) = result.extras["specs"]
    assert final.ok and final.mimebundle["image/svg+xml"] == bundle["image/svg+xml"]
    assert recorder.max_per_second() <= 10
    view.finish(result, settle=False)
    assert len(view.specs.outputs) == 1 and "word149" in _answer_html(view)
    assert env.stats.requests == 1


def test_settling_clears_the_live_chart_so_the_settled_outputs_hold_it_once(env) -> None:
    from dbchat_magic.ui._settled import SpecOutput

    ns = {"sales": pd.DataFrame({"region": ["EU", "US"], "revenue": [1.0, 2.0]})}
    env.script("revenue chart", REPLY)
    gate = _held_after_the_chart()
    env.set_pacing(tokens_per_second=150, gate=gate)
    view = WidgetAnswerView(endpoint=LLAMA, on_stop=None, stop_mode="none")
    s = _session()
    try:
        handle = s.start(s.prepare("revenue chart", None, ns), ns, on_update=view.update)
        wait_until(lambda: view.specs.outputs or handle.done, "the live chart")
        assert view.specs.outputs, "no live chart"
    finally:
        gate.open()
    result = handle.wait(WAIT)
    view.finish(result)  # settle: the magic displays settled_outputs next
    assert view.specs.outputs == ()
    charts = [item for item in view.settled_outputs(result) if isinstance(item, SpecOutput)]
    assert len(charts) == 1


def test_an_invalid_spec_is_left_to_the_repair_turn_not_shown_live(env, counted_renders) -> None:
    from dbchat_magic.specs import REPAIR_MARKER

    ns = {"sales": pd.DataFrame({"region": ["EU", "US"], "revenue": [1.0, 2.0]})}
    env.script("revenue chart", REPLY.replace('"region"', '"regoin"'))
    env.script(REPAIR_MARKER, f"Fixed:\n```json\n{CHART}\n```\n")
    env.set_pacing(tokens_per_second=150)
    view = WidgetAnswerView(endpoint=LLAMA, on_stop=None, stop_mode="none")
    s = _session()
    handle = s.start(s.prepare("revenue chart", None, ns), ns, on_update=view.update)
    live_outputs = 0
    while not handle.done:
        live_outputs = max(live_outputs, len(view.specs.outputs))
        time.sleep(0.02)
    result = handle.wait(60)
    assert live_outputs == 0  # a spec that fails validation is never shown live
    assert result.extras.get("repaired") is True and result.extras["specs"][0].ok
    assert env.stats.requests == 2
    # live try (rejected) + final render of the repaired spec; the bad one is not rendered again
    assert [spec["x"]["field"] for spec in counted_renders] == ["regoin", "region"]
