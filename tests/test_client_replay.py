"""Databricks wire shapes replayed byte for byte over loopback (the simulator's `replay` fault) to
the real client. The bodies are composed from documented shapes, each citing its source
(tests/fixtures/wire/composed/README.md), plus MLflow's own captures (tests/fixtures/wire)."""

from __future__ import annotations

from pathlib import Path

from client_helpers import ask, client_for
from dbchat_magic.client import ChatResult
from dbchat_magic.simulator import Simulator
from dbchat_magic.simulator._endpoints import CHAT_AGENT, LLAMA, RESPONSES_AGENT

WIRE = Path(__file__).parent / "fixtures" / "wire"
COMPOSED = WIRE / "composed"


def _replay(sim: Simulator, endpoint: str, path: Path, status: int = 200,
            content_type: str = "text/event-stream") -> ChatResult:
    sim.inject("replay", endpoint=endpoint, body=path.read_bytes(), status=status,
               content_type=content_type)
    return ask(client_for(sim, endpoint=endpoint, max_retries=0))


def test_claude_tool_call_stream(sim: Simulator) -> None:
    result = _replay(sim, LLAMA, COMPOSED / "databricks-claude-chat-tool-calls-stream.sse")
    assert result.status == "completed", result.error
    assert result.text == "Let me check the date."
    assert [(s.kind, s.name, s.text) for s in result.steps] == [
        ("call", "get_date", '{"tz": "UTC"}')]
    assert result.finish_reason == "tool_calls"
    assert result.usage.completion_tokens == 38 and result.usage.total_tokens == 450


def test_responses_agent_two_turns_without_done(sim: Simulator) -> None:
    result = _replay(sim, RESPONSES_AGENT,
                     COMPOSED / "databricks-responses-agent-tool-call-stream.sse")
    assert result.status == "completed", result.error
    assert result.text == "I will compute it. The answer is 42."
    assert [(s.kind, s.name) for s in result.steps] == [
        ("call", "system__ai__python_exec"), ("output", "system__ai__python_exec")]
    assert result.steps[1].text == "42\n"
    assert result.usage.total_tokens == 1240


def test_external_model_error_shows_its_reason(sim: Simulator) -> None:
    result = _replay(sim, LLAMA, COMPOSED / "databricks-external-model-error-400.json", 400,
                     "application/json")
    assert result.status == "failed"
    assert "max_tokens: 100000 > 8192" in (result.error or "")


def test_permission_denied(sim: Simulator) -> None:
    result = _replay(sim, LLAMA, COMPOSED / "databricks-permission-denied-403.json", 403,
                     "application/json")
    assert result.status == "failed"
    assert "User does not have permission 'View'" in (result.error or "")


def test_mlflow_captures_replayed(sim: Simulator) -> None:
    """The real MLflow bodies: ChatAgent whole body and stream, ResponsesAgent stream, the 400."""
    agent = _replay(sim, CHAT_AGENT, WIRE / "mlflow-chat-agent.json",
                    content_type="application/json")
    assert agent.status == "completed" and agent.text.startswith("Order 7 has shipped.")
    assert [s.kind for s in agent.steps] == ["call", "output"]
    stream = _replay(sim, CHAT_AGENT, WIRE / "mlflow-agentserver-chat-agent-stream.sse")
    assert stream.text == agent.text and stream.steps == agent.steps
    responses = _replay(sim, RESPONSES_AGENT, WIRE / "mlflow-agentserver-responses-stream.sse")
    assert responses.status == "completed"
    assert responses.text == "Order 7 has shipped. You asked: Where is order 7?"
    assert responses.reasoning == "I should look the order up."
    failed = _replay(sim, RESPONSES_AGENT, WIRE / "mlflow-responses-agent-messages-400.json", 400,
                     "application/json")
    assert failed.status == "failed"
    assert (failed.error or "").index("Model is missing inputs ['input']") < 80
