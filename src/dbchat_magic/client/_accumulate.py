"""Fill a live `ChatResult` from events: text, reasoning, usage (estimated when absent), metrics."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from dbchat_magic.events import ReasoningDelta, StreamEnd, StreamEvent, TextDelta, UsageUpdate
from dbchat_magic.result import ChatResult, Metrics, Usage

CHARS_PER_TOKEN = 4
_SYNC_SECONDS = 0.005  # long answers: re-join the text at most this often (O(n) per join)
_SHORT = 8192  # shorter answers are joined on every delta


def estimate_tokens(text: str) -> int:
    """About one token per four characters (at least 1 for non-empty text)."""
    return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0


def _content_chars(messages: Sequence[Mapping[str, Any]]) -> int:
    total = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(str(b.get("text", ""))) for b in content if isinstance(b, dict))
    return total


class ResultFiller:
    """Applies events to ``result`` so another thread can read it live; `finish` makes it final."""

    def __init__(self, result: ChatResult, endpoint: str,
                 messages: Sequence[Mapping[str, Any]]) -> None:
        self.r = result
        result.endpoint = endpoint
        result.text = result.reasoning = ""
        result.usage = Usage()
        result.metrics = Metrics()
        result.status = "pending"
        result.finish_reason = result.error = result.model = None
        self._messages = messages
        self._t0 = time.perf_counter()
        self._first: float | None = None
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._synced = self._t0
        self.end: StreamEnd | None = None

    def apply(self, ev: StreamEvent) -> None:
        """Take one event into the result (long texts are joined by `tick`, at most every 5 ms)."""
        cls = ev.__class__
        r = self.r
        if cls is TextDelta or cls is ReasoningDelta:
            if self._first is None:
                now = self._first = time.perf_counter()
                r.metrics.time_to_first_token = now - self._t0
                r.status = "streaming"
            if cls is TextDelta:
                self._text.append(ev.text)  # type: ignore[union-attr]
            else:
                self._reasoning.append(ev.text)  # type: ignore[union-attr]
            if len(r.text) < _SHORT:
                self._sync(self._synced)
        elif cls is UsageUpdate:
            u = r.usage
            if ev.prompt_tokens is not None:  # type: ignore[union-attr]
                u.prompt_tokens = ev.prompt_tokens  # type: ignore[union-attr]
            if ev.completion_tokens is not None:  # type: ignore[union-attr]
                u.completion_tokens = ev.completion_tokens  # type: ignore[union-attr]
            if ev.total_tokens is not None:  # type: ignore[union-attr]
                u.total_tokens = ev.total_tokens  # type: ignore[union-attr]
        elif cls is StreamEnd:
            self.end = ev  # type: ignore[assignment]
            r.finish_reason = ev.finish_reason  # type: ignore[union-attr]
            r.model = ev.model  # type: ignore[union-attr]

    def tick(self) -> None:
        """After a batch of events: join pending text into the result if 5 ms have passed."""
        if self._text or self._reasoning:
            now = time.perf_counter()
            if now - self._synced >= _SYNC_SECONDS:
                self._sync(now)

    def retrying(self, retries: int, reason: str) -> None:
        """A retry is about to wait: readers see the count (and why) while the answer is pending."""
        self.r.metrics.retries = retries
        self.r.extras["retrying"] = reason

    def _sync(self, now: float) -> None:
        r = self.r
        if self._text:
            r.text += "".join(self._text)
            self._text.clear()
        if self._reasoning:
            r.reasoning += "".join(self._reasoning)
            self._reasoning.clear()
        self._synced = now

    def finish(self, status: str, *, error: str | None = None, retries: int = 0,
               warnings: Sequence[str] = ()) -> ChatResult:
        """Final text, usage (estimated if the server sent none), metrics, then the status."""
        now = time.perf_counter()
        self._sync(now)
        r, m, u = self.r, self.r.metrics, self.r.usage
        m.total_time = now - self._t0
        m.retries = retries
        if u.completion_tokens is None:
            u.completion_tokens = estimate_tokens(r.text) + estimate_tokens(r.reasoning)
            u.estimated = True
        if u.prompt_tokens is None:
            u.prompt_tokens = max(1, round(_content_chars(self._messages) / CHARS_PER_TOKEN))
            u.estimated = True
        if u.total_tokens is None or u.estimated:
            u.total_tokens = u.prompt_tokens + u.completion_tokens
        if self._first is not None and u.completion_tokens:
            span = now - self._first
            m.tokens_per_second = u.completion_tokens / (span if span > 1e-3 else m.total_time)
        r.extras.pop("retrying", None)
        if warnings:
            r.extras["warnings"] = list(warnings)
        r.error = error
        r.status = status  # type: ignore[assignment]  # last: readers see a complete result
        return r
