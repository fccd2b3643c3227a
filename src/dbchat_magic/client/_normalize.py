"""Chat completion chunks → typed events (the `Normalizer` of `CHAT_COMPLETIONS`): string or block
content, reasoning, usage, error objects, and Llama special tokens stripped even when a token is
split across chunks."""

from __future__ import annotations

import re
from typing import Any

from dbchat_magic.client._steps import ToolCallParts
from dbchat_magic.client._wire import ReportedError
from dbchat_magic.events import ReasoningDelta, StreamEvent, TextDelta, UsageUpdate

_SPECIAL_NAMES = ("begin_of_text", "end_of_text", "start_header_id", "end_header_id", "eom_id",
                  "eot_id", "python_tag", "finetune_right_pad_id")
_SPECIAL = tuple(f"<|{n}|>" for n in _SPECIAL_NAMES)
_RESERVED = "<|reserved_special_token_"
# A header block ("<|start_header_id|>assistant<|end_header_id|>\n\n") goes with its role name.
_STRIP_RE = re.compile(
    r"<\|start_header_id\|>\w{0,32}<\|end_header_id\|>\n{0,2}"
    r"|<\|(?:" + "|".join(_SPECIAL_NAMES) + r"|reserved_special_token_\d+)\|>")
_HEADER_OPEN = "<|start_header_id|>"
_HEADER_TAIL_RE = re.compile(r"\w{0,32}(<[|a-z_]{0,16})?\Z")
_RESERVED_PREFIX_RE = re.compile(r"<\|reserved_special_token_\d{0,4}\|?\Z")


def _is_token_prefix(tail: str) -> bool:
    """True when ``tail`` (starting with "<") could still grow into a special token."""
    if len(tail) > 40:
        return False
    return (any(tok.startswith(tail) for tok in _SPECIAL) or _RESERVED.startswith(tail)
            or _RESERVED_PREFIX_RE.match(tail) is not None)


class SpecialTokenFilter:
    """Removes Llama special tokens from streamed text, holding back a possible token start."""

    __slots__ = ("_eat", "_held")

    def __init__(self) -> None:
        self._held = ""
        self._eat = 0  # newlines still owed by a header block that ended a piece

    def _strip(self, match: re.Match[str]) -> str:
        token = match.group()
        if token.startswith(_HEADER_OPEN) and match.end() == len(match.string):
            self._eat = 2 - (len(token) - len(token.rstrip("\n")))
        return ""

    def feed(self, text: str) -> str:
        """The text that is safe to show now (a trailing partial token is held for later)."""
        if self._eat:  # the owed newlines follow the header, so come before any held text
            lead = len(text) - len(text.lstrip("\n"))
            text = text[min(lead, self._eat):]
            self._eat = 0 if text else self._eat - lead
        if self._held:
            text, self._held = self._held + text, ""
        if "<" not in text:
            return text
        start = text.rfind(_HEADER_OPEN)  # an unfinished header block: hold it whole
        if start >= 0:
            m = _HEADER_TAIL_RE.match(text, start + len(_HEADER_OPEN))
            if m and (m.group(1) is None or "<|end_header_id|>".startswith(m.group(1))):
                self._held = text[start:]
                text = text[:start]
        if "<|" in text:
            text = _STRIP_RE.sub(self._strip, text)
        if not self._held:
            cut = text.rfind("<")
            if cut >= 0 and _is_token_prefix(text[cut:]):
                self._held = text[cut:]
                text = text[:cut]
        return text

    def flush(self) -> str:
        """At the end: whatever was held was not a special token after all."""
        held, self._held, self._eat = self._held, "", 0
        return _STRIP_RE.sub("", held)


def _block_texts(blocks: list[Any], text: list[str], reasoning: list[str]) -> None:
    for block in blocks:
        if isinstance(block, str):
            text.append(block)
        elif isinstance(block, dict):
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                text.append(block["text"])
            elif kind == "reasoning":
                for part in block.get("summary") or ():
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        reasoning.append(part["text"])


class ChunkNormalizer:
    """Turns each parsed chunk into events, remembering model and finish_reason as they appear.

    Llama endpoints repeat a running usage on every chunk: a `UsageUpdate` goes out for the first
    and then every 32nd, and `flush` sends the last one, so usage does not double the events.
    """

    __slots__ = ("_calls", "_filter", "_read", "_sent_usage", "_unread", "_usage", "_usage_count",
                 "finish_reason", "model")

    def __init__(self) -> None:
        self._filter = SpecialTokenFilter()
        self._calls: ToolCallParts | None = None
        self._read = False
        self._unread: tuple[str, ...] | None = None
        self.model: str | None = None
        self.finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None
        self._sent_usage: dict[str, Any] | None = None
        self._usage_count = 0

    def events(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        """The events in one chunk (reasoning, text, usage), in that order."""
        out: list[StreamEvent] = []
        self.add(chunk, out)
        return out

    def add(self, chunk: dict[str, Any], out: list[StreamEvent]) -> None:
        """Append the events of one chunk (reasoning, text, usage, in that order) to ``out``;
        `ReportedError` when the chunk is an error object (``error`` / ``error_code``)."""
        if "error_code" in chunk or "error" in chunk:
            message = stream_error(chunk)
            if message:
                raise ReportedError(message)
        choices = chunk.get("choices")
        if choices:
            self._read = True
            choice = choices[0]
            delta = choice.get("delta") or choice.get("message") or {}
            content = delta.get("content")
            if content and content.__class__ is str:  # the usual chunk: a piece of text
                filt = self._filter
                if filt._held or filt._eat or "<" in content:
                    content = filt.feed(content)
                if content:
                    out.append(TextDelta(content))
            else:
                start = len(out)
                if content and isinstance(content, list):
                    texts: list[str] = []
                    reasoning: list[str] = []
                    _block_texts(content, texts, reasoning)
                    if reasoning:
                        out.append(ReasoningDelta("".join(reasoning)))
                    text = self._filter.feed("".join(texts)) if texts else ""
                    if text:
                        out.append(TextDelta(text))
                # vLLM / DeepSeek: reasoning_content; vLLM >= 0.11: reasoning
                extra_reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if extra_reasoning and isinstance(extra_reasoning, str):
                    out.insert(start, ReasoningDelta(extra_reasoning))
                if delta.get("tool_calls"):
                    if self._calls is None:
                        self._calls = ToolCallParts()
                    self._calls.add(delta["tool_calls"])
            finish = choice.get("finish_reason")
            if finish:
                self.finish_reason = finish
                if self._calls is not None:
                    self._calls.take(out)
        elif self._unread is None:
            self._unread = tuple(sorted(str(k) for k in chunk)[:12])
        usage = chunk.get("usage")
        if usage and usage.__class__ is dict:
            self._usage = usage
            self._usage_count += 1
            if self._usage_count & 31 == 1:
                self._sent_usage = usage
                out.append(_usage_event(usage))
        if self.model is None and chunk.get("model"):
            self.model = chunk["model"]

    def flush(self) -> list[StreamEvent]:
        """At the end: text held back (a "<" that began no special token) and the last usage."""
        out: list[StreamEvent] = []
        text = self._filter.flush()
        if text:
            out.append(TextDelta(text))
        if self._calls is not None:
            self._calls.take(out)
        if self._usage is not None and self._usage is not self._sent_usage:
            self._sent_usage = self._usage
            out.append(_usage_event(self._usage))
        return out

    def unsent_usage(self) -> UsageUpdate | None:
        """The last usage the server reported if no event carried it yet (after a stop or error)."""
        if self._usage is None or self._usage is self._sent_usage:
            return None
        self._sent_usage = self._usage
        return _usage_event(self._usage)

    @property
    def finished(self) -> bool:
        """True once a chunk carried a finish_reason."""
        return self.finish_reason is not None

    @property
    def total_tokens(self) -> int | None:
        """The last total token count the server reported, if any."""
        return _int(self._usage.get("total_tokens")) if self._usage else None

    @property
    def unread_keys(self) -> tuple[str, ...] | None:
        """The keys of a payload that was no chat completion chunk, when none was read."""
        return None if self._read else self._unread


def _usage_event(usage: dict[str, Any]) -> UsageUpdate:
    return UsageUpdate(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")),
                       _int(usage.get("total_tokens")))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def stream_error(chunk: dict[str, Any]) -> str | None:
    """The message of an error object sent as a ``data:`` event, else None."""
    if "error_code" in chunk:
        return str(chunk.get("message") or chunk["error_code"])
    err = chunk.get("error")
    if err:
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or err)
        return str(err)
    return None
