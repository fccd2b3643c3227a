"""Agent steps shown: the settled cell output, the text view, history records and exports, all
from real answers of the simulator's agent endpoints (loopback), and hostile step text escaped."""

from __future__ import annotations

import io
import json

from client_helpers import ask, client_for
from dbchat_magic.conversation import Conversation
from dbchat_magic.events import ToolStep
from dbchat_magic.markup import markdown_html
from dbchat_magic.result import ChatResult
from dbchat_magic.simulator import Simulator
from dbchat_magic.simulator._endpoints import CHAT_AGENT, RESPONSES_AGENT
from dbchat_magic.ui._settled import StepsOutput, settled_outputs
from dbchat_magic.ui._text_view import TextAnswerView


def _agent_answer(sim: Simulator, *, only_call: bool = False) -> ChatResult:
    if only_call:
        sim.inject("tool_call_only", endpoint=RESPONSES_AGENT)
    return ask(client_for(sim, endpoint=RESPONSES_AGENT if only_call else CHAT_AGENT))


def test_settled_output_has_a_collapsed_steps_section(sim: Simulator) -> None:
    result = _agent_answer(sim)
    items = settled_outputs(result)
    steps = items[0]
    assert isinstance(steps, StepsOutput)
    bundle = steps._repr_mimebundle_()
    assert bundle["text/html"].startswith("<details class='dbchat-steps'><summary>steps (2)")
    assert "call lookup_order(order_id=7)" in bundle["text/plain"]
    assert "lookup_order → " in bundle["text/plain"]


def test_tool_call_only_answer_is_said_in_cell_and_text_view(sim: Simulator) -> None:
    result = _agent_answer(sim, only_call=True)
    plain = [repr(item) for item in settled_outputs(result)]
    note = "the model asked to call `lookup_order(order_id=7)`; dbchat does not run tools"
    assert note in plain
    out = io.StringIO()
    view = TextAnswerView(endpoint=RESPONSES_AGENT, stream=out)
    view.finish(result)
    assert note in out.getvalue() and "step: call lookup_order(order_id=7)" in out.getvalue()


def test_history_records_and_exports_keep_the_steps(sim: Simulator) -> None:
    conv = Conversation("steps")
    conv.add("Where is order 7?", _agent_answer(sim))
    conv.add("Look it up", _agent_answer(sim, only_call=True))
    records = json.loads(conv.to_json())["turns"]
    assert [s["kind"] for s in records[0]["steps"]] == ["call", "output"]
    assert records[0]["steps"][0]["name"] == "lookup_order"
    assert records[1]["tool_call_note"].startswith("the model asked to call")
    markdown = conv.to_markdown()
    assert "*steps:*" in markdown and "call lookup_order(order_id=7)" in markdown
    assert "dbchat does not run tools" in markdown


def test_hostile_step_text_is_escaped_everywhere() -> None:
    """Step names, arguments and outputs are outside text: no markup runs, no escape codes."""
    evil = ToolStep("call", "<img src=x onerror=alert(1)>", '{"q": "`</code><script>x</script>"}')
    osc = ToolStep("output", "t", "\x1b]52;c;x\x07")
    result = ChatResult(status="completed", steps=[evil, osc])
    html = StepsOutput(result)._repr_mimebundle_()["text/html"] + result._repr_html_()
    assert "<script" not in html and "<img" not in html and "\x1b" not in html
    conv = Conversation("evil")
    conv.add("q", result)
    markdown = conv.to_markdown()
    assert "\x1b" not in markdown
    rendered = markdown_html(markdown)  # however a program renders the .md file
    assert "<script" not in rendered and "<img" not in rendered
