"""MLflow ChatAgent answers → typed events (the `Normalizer` of `CHAT_AGENT`).

Stream chunks are ``{"delta": {"role", "content", "id", "tool_calls"?, "tool_call_id"?}}`` (with
``finish_reason`` / ``usage`` on some); a whole body is ``{"messages": [...]}``. Assistant content
is the answer (a new message ``id`` starts a new paragraph), ``tool_calls`` and ``role: tool``
messages are steps. Shapes: mlflow ``types/agent.py`` ``ChatAgentChunk`` / ``ChatAgentResponse``.
"""

from __future__ import annotations

from typing import Any

from dbchat_magic.client._normalize import stream_error
from dbchat_magic.client._steps import AgentNormalizerBase, call_step, output_step, usage_event
from dbchat_magic.client._wire import ReportedError
from dbchat_magic.events import StreamEvent, TextDelta

_TOOL_NAMES = 256  # call ids remembered to name tool outputs


class ChatAgentNormalizer(AgentNormalizerBase):
    """Reads ChatAgent deltas and message lists; remembers which call id named which tool."""

    def __init__(self) -> None:
        super().__init__()
        self._message_id: Any = None
        self._wrote = False
        self._names: dict[str, str] = {}

    def add(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        """Append the events of one chunk or body; `ReportedError` for an error object."""
        delta = payload.get("delta")
        if delta.__class__ is dict:
            self._read = True
            self._message(delta, out)
        elif isinstance(payload.get("messages"), list):
            self._read = True
            for message in payload["messages"]:
                if isinstance(message, dict):
                    self._message(message, out)
            self._done = True
        elif "error" in payload or "error_code" in payload:
            raise ReportedError(stream_error(payload) or "unknown error")
        else:
            self._unknown(payload)
        self._tail(payload, out)

    def _tail(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        finish = payload.get("finish_reason")
        if isinstance(finish, str) and finish:
            self.finish_reason = finish
            self._done = True
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self._note_usage(usage_event(usage.get("prompt_tokens"),
                                         usage.get("completion_tokens"),
                                         usage.get("total_tokens")), out)

    def _message(self, message: dict[str, Any], out: list[StreamEvent]) -> None:
        """One message or delta: assistant text, tool calls, or a tool's output."""
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            name = message.get("name") or self._names.get(str(call_id), "")
            out.append(output_step(name, message.get("content"), call_id))
            return
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict):
                    step = call_step(fn.get("name"), fn.get("arguments"), call.get("id"))
                    if step.call_id and len(self._names) < _TOOL_NAMES:
                        self._names[step.call_id] = step.name
                    out.append(step)
        content = message.get("content")
        if isinstance(content, str) and content and role in (None, "assistant"):
            msg_id = message.get("id")
            if self._wrote and msg_id != self._message_id:
                content = "\n\n" + content
            self._message_id, self._wrote = msg_id, True
            out.append(TextDelta(content))
