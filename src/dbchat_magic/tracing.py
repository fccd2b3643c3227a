"""MLflow traces of the answers (extra ``mlflow``): every question a trace with a CHAT_MODEL span.

The span carries the messages as inputs, the text as outputs, ``mlflow.chat.tokenUsage``, model and
endpoint, first-token and total times, the first streamed chunks as span events (bounded), and the
status and error; stopped and failed answers are traced too. A compare run is one parent span
(CHAIN) with a CHAT_MODEL child per endpoint.

Tracing never slows or breaks an answer: every MLflow call (importing it takes seconds) runs in one
worker thread, in order; the answer only queues work. The first MLflow failure becomes one note
(`take_notes`) and turns tracing off for this process.

Setting ``tracing``: ``auto`` (on when MLflow is installed and ``MLFLOW_TRACKING_URI`` is set or
this is a Databricks notebook), ``on``, ``off``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dbchat_magic.auth import redact
from dbchat_magic.result import ChatResult

__all__ = ["MAX_CHUNK_CHARS", "MAX_CHUNK_EVENTS", "AnswerTrace", "TraceGroup", "flush",
           "start_group", "start_trace", "take_notes", "tracing_enabled"]

MAX_CHUNK_EVENTS = 64  # streamed chunks kept as span events (the rest are counted)
MAX_CHUNK_CHARS = 500
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_lock = threading.Lock()
_state: dict[str, Any] = {"off": False, "notes": []}


def tracing_enabled(mode: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether setting ``mode`` (auto/on/off) traces here (never imports MLflow)."""
    env = os.environ if env is None else env
    if mode == "off" or _state["off"]:
        return False
    if mode == "on":
        return True
    if not (env.get("MLFLOW_TRACKING_URI") or env.get("DATABRICKS_RUNTIME_VERSION")):
        return False  # first: a missing MLflow would be searched for on every answer
    return importlib.util.find_spec("mlflow") is not None


def take_notes() -> list[str]:
    """Notes to show once (tracing turned off and why); cleared when read."""
    with _lock:
        notes, _state["notes"] = _state["notes"], []
    return notes


def flush(timeout: float = 30.0) -> bool:
    """Wait until every queued MLflow call has run (tests, notebooks); True when done."""
    with _lock:
        executor = _executor
    if executor is None:
        return True
    try:
        executor.submit(_flush_mlflow).result(timeout)
        return True
    except concurrent.futures.TimeoutError:
        return False


def _flush_mlflow() -> None:
    """Let MLflow write out traces it queued (it exports them in the background)."""
    mlflow = sys.modules.get("mlflow")
    flush_async = getattr(mlflow, "flush_trace_async_logging", None)
    if callable(flush_async):
        with contextlib.suppress(Exception):
            flush_async()


def _submit(fn: Callable[[], Any]) -> concurrent.futures.Future[Any] | None:
    global _executor
    with _lock:
        if _state["off"]:
            return None
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dbchat-trace")
        return _executor.submit(_guarded, fn)


def _guarded(fn: Callable[[], Any]) -> Any:
    """Run one MLflow call; the first failure turns tracing off with one note."""
    if _state["off"]:
        return None
    try:
        return fn()
    except Exception as exc:  # MLflow missing, server down, bad URI: the answer goes on
        reason = redact((str(exc).strip().splitlines() or [type(exc).__name__])[0][:200])[0]
        with _lock:
            _state["off"] = True
            _state["notes"].append(f"MLflow tracing is off for this session ({reason})")
        return None


def _mlflow() -> Any:
    import mlflow

    return mlflow


def _checked(span: Any) -> Any:
    """MLflow logs a warning and hands back a no-op span when it cannot start one: that counts
    as a failure here (one note, then off)."""
    from mlflow.entities import NoOpSpan

    if isinstance(span, NoOpSpan):
        uri = redact(str(_mlflow().get_tracking_uri()))[0]
        raise RuntimeError(f"MLflow could not start a trace at {uri}")
    return span


class _SpanRef:
    """A span started in the worker: later calls wait for it there (queued in order)."""

    def __init__(self) -> None:
        self.span: Any = None


class TraceGroup:
    """A parent span (CHAIN) grouping several answers: ``--compare``."""

    def __init__(self, name: str, inputs: Any) -> None:
        self.ref = _SpanRef()
        start_ns = time.time_ns()

        def begin() -> None:
            self.ref.span = _checked(_mlflow().start_span_no_context(
                name, span_type="CHAIN", inputs=inputs, start_time_ns=start_ns))
        _submit(begin)

    def end(self, outputs: Any, *, failed: bool = False) -> None:
        """End the parent span (after its children)."""
        end_ns = time.time_ns()

        def finish() -> None:
            if self.ref.span is not None:
                self.ref.span.end(outputs=outputs, status="ERROR" if failed else "OK",
                                  end_time_ns=end_ns)
        _submit(finish)


class AnswerTrace:
    """One answer's CHAT_MODEL span: started at once, chunks kept (bounded), ended once."""

    def __init__(self, messages: Sequence[Mapping[str, Any]], endpoint: str,
                 params: Mapping[str, Any], parent: TraceGroup | None = None) -> None:
        self.endpoint = endpoint
        self.ref = _SpanRef()
        self._chunks: list[tuple[int, str]] = []
        self._dropped = 0
        self._ended = False
        start_ns = time.time_ns()
        inputs = {"messages": [_message(m) for m in messages], **dict(params)}

        def begin() -> None:
            parent_span = parent.ref.span if parent is not None else None
            self.ref.span = _checked(_mlflow().start_span_no_context(
                f"dbchat {endpoint}", span_type="CHAT_MODEL", parent_span=parent_span,
                inputs=inputs, attributes={"endpoint": endpoint}, start_time_ns=start_ns))
        _submit(begin)

    def chunk(self, text: str) -> None:
        """Remember a streamed chunk (the first `MAX_CHUNK_EVENTS`; later ones are counted)."""
        if len(self._chunks) < MAX_CHUNK_EVENTS:
            self._chunks.append((time.time_ns(), text[:MAX_CHUNK_CHARS]))
        else:
            self._dropped += 1

    def end(self, result: ChatResult) -> None:
        """End the span with the final ``result`` (once; later calls do nothing)."""
        if self._ended:
            return
        self._ended = True
        end_ns = time.time_ns()
        attributes = _attributes(result, self._dropped)
        outputs = redact(result.text)[0]
        chunks = list(self._chunks)

        def finish() -> None:
            span = self.ref.span
            if span is None:
                return
            from mlflow.entities import SpanEvent

            event: Any = SpanEvent  # typed abstract (from_proto) in some MLflow versions
            for at, text in chunks:
                span.add_event(event("chunk", timestamp=at,
                                         attributes={"text": redact(text)[0]}))
            span.end(outputs=outputs, attributes=attributes,
                     status="OK" if result.status == "completed" else "ERROR", end_time_ns=end_ns)
        _submit(finish)


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    return {"role": str(message.get("role", "")),
            "content": redact(str(message.get("content", "")))[0]}


def _attributes(result: ChatResult, dropped: int) -> dict[str, Any]:
    u, m = result.usage, result.metrics
    attrs: dict[str, Any] = {
        "endpoint": result.endpoint, "status": result.status,
        "model": result.model or result.endpoint,
        "dbchat.first_token_s": m.time_to_first_token, "dbchat.total_s": m.total_time,
        "dbchat.tokens_per_second": m.tokens_per_second, "dbchat.usage_estimated": u.estimated,
        "dbchat.chunks_not_kept": dropped,
    }
    if result.error:
        attrs["error"] = redact(result.error)[0]
    if result.finish_reason:
        attrs["finish_reason"] = result.finish_reason
    if u.prompt_tokens is not None or u.completion_tokens is not None:
        attrs["mlflow.chat.tokenUsage"] = {
            "input_tokens": u.prompt_tokens or 0, "output_tokens": u.completion_tokens or 0,
            "total_tokens": u.total_tokens if u.total_tokens is not None
            else (u.prompt_tokens or 0) + (u.completion_tokens or 0)}
    return {k: v for k, v in attrs.items() if v is not None}


def start_trace(mode: str, messages: Sequence[Mapping[str, Any]], endpoint: str,
                params: Mapping[str, Any], parent: TraceGroup | None = None,
                ) -> AnswerTrace | None:
    """A started `AnswerTrace` when setting ``mode`` traces here, else None."""
    if not tracing_enabled(mode):
        return None
    return AnswerTrace(messages, endpoint, params, parent)


def start_group(mode: str, name: str, inputs: Any) -> TraceGroup | None:
    """A started parent span for several answers, or None when not tracing."""
    return TraceGroup(name, inputs) if tracing_enabled(mode) else None
