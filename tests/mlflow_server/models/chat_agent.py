"""MLflow "models from code" file: a scripted `mlflow.pyfunc.ChatAgent` with one tool step.

Runs only inside the MLflow venv (.venv-mlflow). Deterministic, no network, no LLM. Every
answer is: an assistant message asking for `lookup_order(order_id=7)`, the tool's result
message, and a final assistant message that echoes the last user message and any
`custom_inputs` / `context.conversation_id` it was given. The stream's last chunk carries
`finish_reason: "stop"` and the usage.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import mlflow
from mlflow.pyfunc import ChatAgent
from mlflow.types.agent import (
    ChatAgentChunk,
    ChatAgentMessage,
    ChatAgentResponse,
    ChatContext,
)

CALL_ID = "call_lookup_7"
USAGE = {"prompt_tokens": 14, "completion_tokens": 10, "total_tokens": 24}


def _final_text(messages: list[ChatAgentMessage], context: ChatContext | None,
                custom_inputs: dict[str, Any] | None) -> str:
    last = next((m.content for m in reversed(messages) if m.role == "user"), "") or ""
    conv = context.conversation_id if context else None
    extra = json.dumps(custom_inputs, sort_keys=True) if custom_inputs else "none"
    return f"Order 7 has shipped. You asked: {last} (conversation={conv}, custom_inputs={extra})"


def _steps() -> list[ChatAgentMessage]:
    call = {"id": CALL_ID, "type": "function",
            "function": {"name": "lookup_order", "arguments": '{"order_id": 7}'}}
    return [
        ChatAgentMessage(role="assistant", content="", id="msg_call", tool_calls=[call]),
        ChatAgentMessage(role="tool", name="lookup_order", tool_call_id=CALL_ID,
                         content='{"order_id": 7, "status": "shipped"}', id="msg_tool"),
    ]


class ScriptedChatAgent(ChatAgent):
    """One tool step, then a final text answer; streams the final text word by word."""

    def predict(self, messages, context=None, custom_inputs=None) -> ChatAgentResponse:
        final = ChatAgentMessage(role="assistant", id="msg_final",
                                 content=_final_text(messages, context, custom_inputs))
        return ChatAgentResponse(messages=[*_steps(), final], usage=USAGE,
                                 custom_outputs={"echo": custom_inputs} if custom_inputs else None)

    def predict_stream(self, messages, context=None,
                       custom_inputs=None) -> Generator[ChatAgentChunk, None, None]:
        for step in _steps():
            yield ChatAgentChunk(delta=step)
        words = _final_text(messages, context, custom_inputs).split(" ")
        for i, word in enumerate(words):
            text = word if i == 0 else " " + word
            last = i == len(words) - 1
            yield ChatAgentChunk(delta=ChatAgentMessage(role="assistant", content=text,
                                                        id="msg_final"),
                                 finish_reason="stop" if last else None,
                                 usage=USAGE if last else None)


mlflow.models.set_model(ScriptedChatAgent())
