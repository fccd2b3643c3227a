"""Which wire format reads an answer: the normalizer per request (`WireFormat`), the framing per
response content type (`framing_for`). The one place a new format is registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dbchat_magic.client._normalize import ChunkNormalizer
from dbchat_magic.client._wire import Framing, Normalizer, SSEFraming


@dataclass(frozen=True, slots=True)
class WireFormat:
    """An API's answer format: its name and how to make the normalizer for one answer."""

    name: str
    normalizer: Callable[[], Normalizer]


CHAT_COMPLETIONS = WireFormat("chat.completions", ChunkNormalizer)
"""OpenAI-style chat completion chunks (Databricks foundation and external models, vLLM)."""


def framing_for(content_type: str, max_event_bytes: int) -> Framing | None:
    """The framing for a body of ``content_type``; None for a body that is not declared a stream
    (the transport reads it as one JSON completion when it starts with ``{``, else as SSE)."""
    if content_type.startswith("text/event-stream"):
        return SSEFraming(max_event_bytes)
    return None
