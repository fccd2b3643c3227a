"""Typed events yielded by `ChatClient.stream()`: the only vocabulary between transport and UI.

Plain slotted dataclasses (not frozen: a frozen one costs twice as much to build, and one is built
per token); treat them as read-only values. They compare and hash by their fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FinishStatus", "ReasoningDelta", "StepKind", "StreamEnd", "StreamEvent", "TextDelta",
           "ToolStep", "UsageUpdate"]

FinishStatus = Literal["completed", "truncated"]
StepKind = Literal["call", "output"]


@dataclass(slots=True, unsafe_hash=True)
class TextDelta:
    """A piece of answer text (special tokens already stripped)."""

    text: str


@dataclass(slots=True, unsafe_hash=True)
class ReasoningDelta:
    """A piece of a reasoning model's thinking summary."""

    text: str


@dataclass(slots=True, unsafe_hash=True)
class ToolStep:
    """An agent step, whole: a tool call the model asked for (``kind="call"``, ``text`` = its
    arguments as the model wrote them) or a tool's output an agent sent (``kind="output"``).
    Every field is untrusted server text."""

    kind: StepKind
    name: str
    text: str
    call_id: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class UsageUpdate:
    """Token counts as reported so far; a ``None`` field means "not reported yet"."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None


@dataclass(slots=True, unsafe_hash=True)
class StreamEnd:
    """End of stream: ``completed`` saw ``[DONE]`` or a finish_reason, ``truncated`` did not."""

    status: FinishStatus
    finish_reason: str | None
    model: str | None


StreamEvent = TextDelta | ReasoningDelta | ToolStep | UsageUpdate | StreamEnd
