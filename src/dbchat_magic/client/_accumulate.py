"""Fill a live `ChatResult` from events: text, reasoning, usage (estimated when absent), metrics.

The one writer of ``ChatResult.status``: `ResultFiller` while a request runs, `end_result` for a
result no request will finish. A typed error (`DbChatError`) given to either is kept as its message,
its kind and its hint (`ChatResult.error_kind`, ``error_hint``)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from dbchat_magic.client._errors import one_line
from dbchat_magic.errors import DbChatError
from dbchat_magic.events import (
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolStep,
    UsageUpdate,
)
from dbchat_magic.result import ChatResult, Metrics, Status, Usage
from dbchat_magic.tokens import estimate_message_tokens, estimate_tokens

_SYNC_SECONDS = 0.005  # long answers: re-join the text at most this often (O(n) per join)
_SHORT = 8192  # shorter answers are joined on every delta
_LABEL_MAX = 128  # model names and finish reasons up to this length are kept once per process


def _label(value: object) -> str | None:
    """A short label (endpoint, the server's model name, finish reason) as one shared string:
    every answer naming the same one keeps the same object, not its own copy. Anything but a
    string is dropped (the server's JSON is untrusted)."""
    if not isinstance(value, str):
        return None
    return sys.intern(value) if len(value) <= _LABEL_MAX else value


class ResultFiller:
    """Applies events to ``result`` so another thread can read it live; `finish` makes it final."""

    def __init__(self, result: ChatResult, endpoint: str,
                 messages: Sequence[Mapping[str, Any]]) -> None:
        self.result = result
        result.endpoint = _label(endpoint) or endpoint
        result.text = result.reasoning = ""
        result.usage = Usage()
        result.steps = ()
        result.metrics = Metrics()
        result.status = "pending"
        result.finish_reason = result.error = result.model = None
        result.error_kind = result.error_hint = None
        self._messages = messages
        self._t0 = time.perf_counter()
        self._first: float | None = None
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._steps: list[ToolStep] = []
        self._synced = self._t0
        self._late: asyncio.TimerHandle | None = None
        self.end: StreamEnd | None = None

    def apply(self, ev: StreamEvent) -> None:
        """Take one event into the result (long texts are joined by `tick`, at most every 5 ms)."""
        result = self.result
        if isinstance(ev, TextDelta | ReasoningDelta):
            if self._first is None:
                now = self._first = time.perf_counter()
                result.metrics.time_to_first_token = now - self._t0
                result.status = "streaming"
            (self._text if ev.__class__ is TextDelta else self._reasoning).append(ev.text)
            if len(result.text) < _SHORT:
                self._sync(self._synced)
        elif isinstance(ev, UsageUpdate):
            usage = result.usage
            if ev.prompt_tokens is not None:
                usage.prompt_tokens = ev.prompt_tokens
            if ev.completion_tokens is not None:
                usage.completion_tokens = ev.completion_tokens
            if ev.total_tokens is not None:
                usage.total_tokens = ev.total_tokens
        elif isinstance(ev, ToolStep):
            self._steps.append(ev)
            result.steps = self._steps  # readers see it grow; a tuple once final
        else:
            self.end = ev
            result.finish_reason = _label(ev.finish_reason)
            result.model = _label(ev.model)

    def tick(self) -> None:
        """After a batch of events: join pending text into the result if 5 ms have passed, else
        once they have (on the running loop), so text never waits for the next event."""
        if not (self._text or self._reasoning):
            return
        now = time.perf_counter()
        wait = self._synced + _SYNC_SECONDS - now
        if wait <= 0:
            self._sync(now)
        elif self._late is None:
            # no running loop (a caller applying events by hand): the next tick joins
            with contextlib.suppress(RuntimeError):
                self._late = asyncio.get_running_loop().call_later(wait, self._sync_late)

    def _sync_late(self) -> None:
        self._late = None
        self._sync(time.perf_counter())

    def retrying(self, retries: int, reason: str) -> None:
        """A retry is about to wait: readers see the count (and why) while the answer is pending."""
        self.result.metrics.retries = retries
        self.result.extras["retrying"] = reason

    def _sync(self, now: float) -> None:
        result = self.result
        if self._text:
            result.text += "".join(self._text)
            self._text.clear()
        if self._reasoning:
            result.reasoning += "".join(self._reasoning)
            self._reasoning.clear()
        self._synced = now

    def finish(self, status: Status, *, error: str | DbChatError | None = None, retries: int = 0,
               warnings: Sequence[str] = ()) -> ChatResult:
        """Final text, usage (estimated if the server sent none), metrics, then the status."""
        if self._late is not None:
            self._late.cancel()
            self._late = None
        now = time.perf_counter()
        self._sync(now)
        result = self.result
        metrics = result.metrics
        metrics.total_time = now - self._t0
        metrics.retries = retries
        self._settle_usage()
        usage = result.usage
        if self._first is not None and usage.completion_tokens:
            span = now - self._first
            metrics.tokens_per_second = usage.completion_tokens / (
                span if span > 1e-3 else metrics.total_time)
        if self._steps:
            result.steps = tuple(self._steps)
        result.extras.pop("retrying", None)
        if warnings:
            result.extras["warnings"] = list(warnings)
        _set_error(result, error)
        result.status = status  # last: readers see a complete result
        return result

    def _settle_usage(self) -> None:
        """Estimate what the server did not count (`dbchat_magic.tokens`)."""
        result = self.result
        usage = result.usage
        if usage.completion_tokens is None:
            usage.completion_tokens = estimate_tokens(result.text) + estimate_tokens(
                result.reasoning)
            usage.estimated = True
        if usage.prompt_tokens is None:
            usage.prompt_tokens = max(1, estimate_message_tokens(self._messages))
            usage.estimated = True
        if usage.total_tokens is None or usage.estimated:
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens


def end_result(result: ChatResult, status: Status, *,
               error: str | DbChatError | None = None) -> ChatResult:
    """Make final a result that no request will finish: stopped before its request started,
    failed to start, or left live by an unexpected error (``error`` is kept only when the result
    has none). A result that is already final is left as it is."""
    if not result.done:
        if error is not None and result.error is None:
            _set_error(result, error)
        result.status = status
    return result


def _set_error(result: ChatResult, error: str | DbChatError | None) -> None:
    """``error`` into the result: a typed one with its kind and hint, a string as it is."""
    if isinstance(error, DbChatError):
        result.error = one_line(str(error))
        result.error_kind, result.error_hint = error.kind, error.hint
    else:
        result.error = error
