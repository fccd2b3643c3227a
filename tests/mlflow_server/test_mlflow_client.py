"""dbchat's client against MLflow's own servers (real pyfunc ChatModel, ChatAgent and
ResponsesAgent, and MLflow's AgentServer streaming), in Databricks' URL form through
databricks_front: the kind comes from the task, the answer's text, steps and status are right."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from databricks_front import DatabricksFront
from mlflow_harness import MlflowServer

from dbchat_magic.client import ChatClient, ChatResult
from dbchat_magic.config import Settings

QUESTION = [{"role": "user", "content": "Where is order 7?"}]
ANSWER = "Order 7 has shipped. You asked: Where is order 7?"
CALL = ("call", "lookup_order", '{"order_id": 7}')
# endpoint name -> (MLflow server, task MLflow writes into the model's metadata)
ENDPOINTS = {
    "chat-model": ("chat_model", "agent/v1/chat"),
    "chat-agent": ("chat_agent", "agent/v2/chat"),
    "responses-agent": ("responses_agent", "agent/v1/responses"),
    "responses-agent-stream": ("responses_agent_stream", "agent/v1/responses"),
    "chat-agent-stream": ("chat_agent_stream", "agent/v2/chat"),
}


@pytest.fixture
def front(request: pytest.FixtureRequest,
          mlflow_servers: Callable[[str], MlflowServer]) -> Iterator[DatabricksFront]:
    """A Databricks-form front for the one endpoint the test names."""
    name = request.param
    server, task = ENDPOINTS[name]
    with DatabricksFront({name: (mlflow_servers(server).base_url, task)}) as f:
        yield f


def _ask(front: DatabricksFront, messages: list[dict[str, str]] | None = None,
         **settings: object) -> ChatResult:
    endpoint = next(iter(front.routes))
    client = ChatClient(Settings(host=front.url, endpoint=endpoint, **settings), token="t")

    async def go() -> ChatResult:
        try:
            return await client.complete(messages or QUESTION)
        finally:
            await client.aclose()

    return asyncio.run(go())


def _steps(result: ChatResult) -> list[tuple[str, str, str]]:
    return [(s.kind, s.name, s.text) for s in result.steps]


@pytest.mark.parametrize("front", ["chat-model"], indirect=True)
def test_chat_model_answers_and_tool_call_only_says_so(front: DatabricksFront) -> None:
    result = _ask(front, [{"role": "user", "content": "Hi there"}])
    assert result.status == "completed", result.error
    assert result.text == "Hello from the MLflow ChatModel. You said: Hi there"
    assert result.usage.total_tokens == 20 and not result.usage.estimated
    weather = _ask(front, [{"role": "user", "content": "What is the weather in Paris?"}])
    assert weather.status == "completed" and weather.text == ""
    assert _steps(weather) == [("call", "get_weather", '{"city": "Paris"}')]
    assert weather.tool_call_note == ('the model asked to call `get_weather(city="Paris")`; '
                                      "dbchat does not run tools")


@pytest.mark.parametrize("front", ["chat-agent", "chat-agent-stream"], indirect=True)
def test_chat_agent_answers_with_steps(front: DatabricksFront) -> None:
    result = _ask(front)
    assert result.status == "completed", result.error
    assert result.text.startswith(ANSWER)
    assert _steps(result)[0] == CALL
    assert _steps(result)[1][:2] == ("output", "lookup_order")


@pytest.mark.parametrize("front", ["responses-agent", "responses-agent-stream"], indirect=True)
def test_responses_agent_answers_with_reasoning_and_steps(front: DatabricksFront) -> None:
    result = _ask(front, max_tokens=64)
    assert result.status == "completed", result.error
    assert result.text == ANSWER
    assert result.reasoning == "I should look the order up."
    assert _steps(result) == [CALL, ("output", "lookup_order",
                                     '{"order_id": 7, "status": "shipped"}')]
    assert result.usage.total_tokens == 21


@pytest.mark.parametrize("front", ["responses-agent"], indirect=True)
def test_responses_agent_sent_messages_fails_with_the_reason_first(front: DatabricksFront) -> None:
    result = _ask(front, api="chat")
    assert result.status == "failed"
    error = result.error or ""
    assert "Model is missing inputs ['input']" in error
    assert error.index("Model is missing inputs") < 80
