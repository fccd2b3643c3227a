"""MLflow "models from code" file: a scripted pyfunc ChatModel (Chat Completions shape).

Runs only inside the MLflow venv (.venv-mlflow). Deterministic, no network, no LLM:
a question containing "weather" is answered with a tool call, anything else with text
that echoes the last user message, so tests can check that the request arrived.
"""

from __future__ import annotations

from collections.abc import Generator

import mlflow
from mlflow.pyfunc import ChatModel
from mlflow.types.llm import (
    ChatChoice,
    ChatChoiceDelta,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChatMessage,
    ChatParams,
    FunctionToolCallArguments,
    TokenUsageStats,
    ToolCall,
)

MODEL_NAME = "dbchat-test-chat-model"


def _answer(messages: list[ChatMessage]) -> str:
    last = next((m.content for m in reversed(messages) if m.role == "user"), "") or ""
    return f"Hello from the MLflow ChatModel. You said: {last}"


def _wants_tool(messages: list[ChatMessage]) -> bool:
    last = next((m.content for m in reversed(messages) if m.role == "user"), "") or ""
    return "weather" in last.lower()


def _tool_call() -> ToolCall:
    args = FunctionToolCallArguments(name="get_weather", arguments='{"city": "Paris"}')
    return ToolCall(id="call_weather_1", function=args)


class ScriptedChatModel(ChatModel):
    """Answers with fixed text (or one tool call) and exact token counts."""

    def predict(self, context, messages: list[ChatMessage], params: ChatParams):
        if _wants_tool(messages):
            message = ChatMessage(role="assistant", content=None, tool_calls=[_tool_call()])
            finish = "tool_calls"
        else:
            message = ChatMessage(role="assistant", content=_answer(messages))
            finish = "stop"
        return ChatCompletionResponse(
            choices=[ChatChoice(index=0, message=message, finish_reason=finish)],
            usage=TokenUsageStats(prompt_tokens=11, completion_tokens=9, total_tokens=20),
            model=MODEL_NAME,
        )

    def predict_stream(
        self, context, messages: list[ChatMessage], params: ChatParams
    ) -> Generator[ChatCompletionChunk, None, None]:
        words = _answer(messages).split(" ")
        for i, word in enumerate(words):
            text = word if i == 0 else " " + word
            delta = ChatChoiceDelta(role="assistant", content=text)
            yield ChatCompletionChunk(choices=[ChatChunkChoice(index=0, delta=delta)])
        done = ChatChunkChoice(index=0, delta=ChatChoiceDelta(), finish_reason="stop")
        yield ChatCompletionChunk(choices=[done])


mlflow.models.set_model(ScriptedChatModel())
