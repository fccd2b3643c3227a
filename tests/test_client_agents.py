"""Agent endpoints, Responses routes, tool steps and the issue-11 wire items, over loopback
against the simulator (real HTTP, real client)."""

from __future__ import annotations

import asyncio

import pytest

from client_helpers import QUESTION, ask, client_for, expected_text
from dbchat_magic.client import ChatClient
from dbchat_magic.config import Settings
from dbchat_magic.simulator import Simulator
from dbchat_magic.simulator._endpoints import CHAT_AGENT, LLAMA, RESPONSES_AGENT

CALL = ("call", "lookup_order", '{"order_id": 7}')


def _steps(result: object) -> list[tuple[str, str, str]]:
    return [(s.kind, s.name, s.text) for s in result.steps]  # type: ignore[attr-defined]


@pytest.mark.parametrize("endpoint", [CHAT_AGENT, RESPONSES_AGENT])
@pytest.mark.parametrize("stream", [True, False])
def test_agent_answers_with_text_and_tool_steps(sim: Simulator, endpoint: str,
                                                stream: bool) -> None:
    """The kind comes from the endpoint's task; text and steps are kept apart."""
    if not stream:
        sim.inject("json_body", endpoint=endpoint)
    result = ask(client_for(sim, endpoint=endpoint))
    assert result.status == "completed", result.error
    assert result.text == expected_text(sim) and result.text
    assert _steps(result)[0] == CALL
    assert _steps(result)[1][:2] == ("output", "lookup_order")
    assert "shipped" in _steps(result)[1][2]
    assert result.tool_call_note is None
    assert sim.stats.lookups == 1


def test_request_shapes_follow_the_kind(sim: Simulator) -> None:
    ask(client_for(sim, endpoint=RESPONSES_AGENT, max_tokens=50))
    body = sim.stats.last_body
    assert body is not None and "messages" not in body
    assert body["input"] == QUESTION and body["max_output_tokens"] == 50
    assert body["stream"] is True
    ask(client_for(sim, endpoint=CHAT_AGENT))
    body = sim.stats.last_body
    assert body is not None and body["messages"] == QUESTION and "max_tokens" not in body


def test_system_messages_are_separate_input_items(sim: Simulator) -> None:
    messages = [{"role": "user", "content": "a"}, {"role": "system", "content": "be brief"}]
    ask(client_for(sim, endpoint=RESPONSES_AGENT), messages)
    body = sim.stats.last_body
    assert body is not None
    assert body["input"] == [{"role": "system", "content": "be brief"},
                             {"role": "user", "content": "a"}]


def test_kind_is_read_once_per_endpoint(sim: Simulator) -> None:
    client = client_for(sim, endpoint=RESPONSES_AGENT)

    async def go() -> list[str]:
        try:
            return [(await client.complete(QUESTION)).status for _ in range(3)]
        finally:
            await client.aclose()

    assert asyncio.run(go()) == ["completed"] * 3
    assert sim.stats.lookups == 1


@pytest.mark.parametrize("route", ["responses", "open-responses"])
def test_responses_routes_with_model(sim: Simulator, route: str) -> None:
    api = "responses" if route == "responses" else "open-responses"
    result = ask(client_for(sim, endpoint=LLAMA, url_style="openai", api=api))
    assert result.status == "completed", result.error
    assert result.text == expected_text(sim)
    assert sim.stats.log[-1].path == f"/serving-endpoints/{route}"
    assert sim.stats.last_body is not None and sim.stats.last_body["model"] == LLAMA


def test_api_setting_overrides_the_task(sim: Simulator) -> None:
    """`api = chat` on a ResponsesAgent: the simulator answers as MLflow does, 400 with the
    reason late in a long message; dbchat shows the reason first."""
    result = ask(client_for(sim, endpoint=RESPONSES_AGENT, api="chat"))
    assert result.status == "failed"
    assert sim.stats.lookups == 0
    assert "Model is missing inputs ['input']" in (result.error or "")
    assert (result.error or "").index("missing inputs") < 80


def test_schema_error_rereads_the_kind_and_asks_again(sim: Simulator) -> None:
    client = client_for(sim, endpoint=RESPONSES_AGENT)
    from dbchat_magic.client._kinds import Kind

    client._kinds.put(RESPONSES_AGENT, Kind("chat", "llm/v1/chat", "task"))  # a stale kind
    result = ask(client)
    assert result.status == "completed", result.error
    assert sim.stats.lookups == 1 and sim.stats.requests == 2


@pytest.mark.parametrize("endpoint", [LLAMA, CHAT_AGENT, RESPONSES_AGENT])
def test_tool_call_only_answer_says_so(sim: Simulator, endpoint: str) -> None:
    sim.inject("tool_call_only", endpoint=endpoint)
    result = ask(client_for(sim, endpoint=endpoint))
    assert result.status == "completed", result.error
    assert result.text == ""
    assert _steps(result) == [CALL]
    assert result.tool_call_note == ("the model asked to call `lookup_order(order_id=7)`; "
                                     "dbchat does not run tools")


@pytest.mark.parametrize("endpoint", [CHAT_AGENT, RESPONSES_AGENT])
def test_agent_faults(sim: Simulator, endpoint: str) -> None:
    sim.inject("error_midstream", endpoint=endpoint, after=2)
    result = ask(client_for(sim, endpoint=endpoint))
    assert result.status == "failed" and "agent failed" in (result.error or "")
    sim.inject("no_done", endpoint=endpoint, after=2)
    assert ask(client_for(sim, endpoint=endpoint)).status == "truncated"


def test_unknown_shape_is_never_an_empty_completed_answer(sim: Simulator) -> None:
    """A ChatAgent read as Chat Completions: a clear failure naming the keys, not "completed"."""
    for stream_fault in (None, "json_body"):
        if stream_fault:
            sim.inject(stream_fault, endpoint=CHAT_AGENT)
        result = ask(client_for(sim, endpoint=CHAT_AGENT, api="chat"))
        assert result.status == "failed"
        assert "the endpoint answered in a shape dbchat does not read (keys:" in \
            (result.error or "").replace(f"endpoint '{CHAT_AGENT}'", "the endpoint")
        assert "api = agent-chat" in (result.error or "")


# -- wire items -------------------------------------------------------------------------------

def test_done_without_blank_line_completes(sim: Simulator) -> None:
    sim.inject("done_no_blank", endpoint=LLAMA)
    result = ask(client_for(sim, endpoint=LLAMA))
    assert result.status == "completed", result.error
    assert result.text == expected_text(sim)


def test_ndjson_body_is_read(sim: Simulator) -> None:
    sim.inject("ndjson", endpoint=LLAMA)
    result = ask(client_for(sim, endpoint=LLAMA))
    assert result.status == "completed", result.error
    assert result.text == expected_text(sim) and result.text


def test_empty_200_stream_says_empty_answer_with_local_hint(sim: Simulator) -> None:
    sim.inject("empty_body", endpoint=LLAMA)
    result = ask(client_for(sim, endpoint=LLAMA))
    assert result.status == "failed"
    assert "the server sent an empty answer" in (result.error or "")
    assert "often the prompt exceeds the model's context" in (result.error or "")  # 127.0.0.1
    assert "proxy" not in (result.error or "")


def test_external_model_message_is_shown(sim: Simulator) -> None:
    sim.inject("external_model_error", endpoint=LLAMA, message="max_tokens must be at most 4096")
    result = ask(client_for(sim, endpoint=LLAMA))
    assert result.status == "failed"
    assert "max_tokens must be at most 4096" in (result.error or "")


def test_delta_reasoning_is_read() -> None:
    """vLLM >= 0.11 names the field `reasoning` (normalizer seam, no HTTP needed)."""
    from dbchat_magic.client._normalize import ChunkNormalizer
    from dbchat_magic.events import ReasoningDelta

    chunk = {"choices": [{"delta": {"reasoning": "think", "content": None}}]}
    assert ChunkNormalizer().events(chunk) == [ReasoningDelta("think")]


def test_endpoint_list_has_agents_with_their_kind(sim: Simulator) -> None:
    client = ChatClient(Settings(host=sim.url), token=sim.token)

    async def go() -> dict[str, str]:
        try:
            return {e.name: e.api for e in await client.list_endpoints()}
        finally:
            await client.aclose()

    apis = asyncio.run(go())
    assert apis[CHAT_AGENT] == "agent-chat" and apis[RESPONSES_AGENT] == "responses"
    assert apis[LLAMA] == "chat"
