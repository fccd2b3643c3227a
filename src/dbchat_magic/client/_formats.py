"""Which wire format reads an answer: the normalizer per API (`WireFormat`, `wire_for`), the
framing per response content type (`framing_for`). The one place a new format is registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dbchat_magic.client._chat_agent import ChatAgentNormalizer
from dbchat_magic.client._normalize import ChunkNormalizer
from dbchat_magic.client._responses import ResponsesNormalizer
from dbchat_magic.client._wire import Framing, NDJSONFraming, Normalizer, SSEFraming


@dataclass(frozen=True, slots=True)
class WireFormat:
    """An API's answer format: its name and how to make the normalizer for one answer."""

    name: str
    normalizer: Callable[[], Normalizer]


CHAT_COMPLETIONS = WireFormat("chat.completions", ChunkNormalizer)
"""OpenAI-style chat completion chunks (Databricks foundation and external models, vLLM)."""
CHAT_AGENT = WireFormat("agent-chat", ChatAgentNormalizer)
"""MLflow ChatAgent ``{"delta": …}`` chunks and ``{"messages": […]}`` bodies."""
RESPONSES = WireFormat("responses", ResponsesNormalizer)
"""Responses API events and bodies (ResponsesAgent, the Responses routes)."""

_BY_API = {"chat": CHAT_COMPLETIONS, "agent-chat": CHAT_AGENT, "responses": RESPONSES,
           "open-responses": RESPONSES}


def wire_for(api: str) -> WireFormat:
    """The wire format of an API kind (`dbchat_magic.config.APIS`; unknown → Chat Completions)."""
    return _BY_API.get(api, CHAT_COMPLETIONS)


_NDJSON = ("application/x-ndjson", "application/jsonl", "application/jsonlines",
           "application/x-jsonlines")


def framing_for(content_type: str, max_event_bytes: int) -> Framing | None:
    """The framing for a body of ``content_type``; None for a body that is not declared a stream
    (the transport reads it as one JSON completion when it starts with ``{``, else as SSE)."""
    if content_type.startswith("text/event-stream"):
        return SSEFraming(max_event_bytes)
    if content_type.startswith(_NDJSON):
        return NDJSONFraming(max_event_bytes)
    return None
