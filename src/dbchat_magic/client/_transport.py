"""One chat request on the wire. `open_stream` sends it, retrying before the first byte;
`read_batches` reads the answer: the deadline loop (`BodyReader`) hands each network piece to a
framing (bytes → JSON payloads) and a normalizer (payloads → events, `_wire`), `_verdict` says how
the stream ended, and after ``[DONE]`` the rest is drained so the connection serves the next
request. A body not declared ``text/event-stream`` that starts with ``{`` is one JSON completion.
Memory is bounded: ``max_event_bytes`` per SSE line/event, ``max_body_bytes`` per whole body,
64 KiB of an error body."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import orjson

from dbchat_magic.auth import CredentialProvider, scrubbed_logger
from dbchat_magic.client._body import body_pieces
from dbchat_magic.client._deadlines import CallState, Deadlines
from dbchat_magic.client._errors import (
    cause_text,
    connect_error,
    http_error,
    one_line,
    parse_error_body,
    reason_first,
)
from dbchat_magic.client._formats import CHAT_COMPLETIONS, WireFormat, framing_for
from dbchat_magic.client._reader import BodyReader
from dbchat_magic.client._retry import RETRY_STATUSES, Backoff, parse_retry_after
from dbchat_magic.client._wire import Framing, Normalizer, ReportedError, SSEFraming
from dbchat_magic.errors import DbChatError, RequestTimeout, StreamFailed
from dbchat_magic.events import StreamEnd, StreamEvent
from dbchat_magic.hosts import is_local

log = scrubbed_logger("dbchat_magic.client")

_ERROR_BODY_LIMIT = 64 * 1024
_DRAIN_LIMIT = 64 * 1024
_STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


# -- sending ----------------------------------------------------------------------------------

@dataclass(slots=True)
class _Failed:
    """Why one attempt failed, and whether (and how soon) it may be retried."""

    failure: DbChatError
    retryable: bool
    retry_after: float | None = None
    stale: bool = False  # a pooled connection the server had just dropped: retry at once


async def open_stream(http: httpx.AsyncClient, provider: CredentialProvider, url: str,
                      body: bytes, deadlines: Deadlines, backoff: Backoff) -> httpx.Response:
    """POST the request; retry 429/5xx and transient connection errors (Retry-After honoured,
    bounded by ``max_retries`` and the total deadline); return the open 2xx response."""
    state = deadlines.state
    while True:
        outcome = await _attempt(http, provider, url, body, deadlines)
        if isinstance(outcome, httpx.Response):
            return outcome
        delay = _retry_delay(outcome, deadlines, backoff)
        if delay is None:
            raise outcome.failure
        log.info("retrying %s in %.2f s: %s", state.endpoint, delay, outcome.failure)
        state.retries += 1
        if state.on_retry is not None:
            state.on_retry(state.retries, str(outcome.failure))
        await asyncio.sleep(delay)


def _retry_delay(failed: _Failed, deadlines: Deadlines, backoff: Backoff) -> float | None:
    """Seconds to wait before retrying, None when the failure is final."""
    retries = deadlines.state.retries
    if not failed.retryable:
        return None
    delay = 0.0 if failed.stale else backoff.delay(retries, failed.retry_after)
    if (delay is None or retries >= deadlines.settings.max_retries
            or deadlines.loop.time() + delay >= deadlines.total):
        return None
    return delay


async def _attempt(http: httpx.AsyncClient, provider: CredentialProvider, url: str, body: bytes,
                   deadlines: Deadlines) -> httpx.Response | _Failed:
    """Send once, within the first-byte deadline: the open 2xx response or why it failed."""
    headers = await provider.headers()
    headers["Accept"] = "text/event-stream"
    headers["Content-Type"] = "application/json"
    request = http.build_request("POST", url, content=body, headers=headers)
    first = deadlines.arm_first_byte()
    response: httpx.Response | None = None
    try:
        response = await http.send(request, stream=True)
        return await _check_response(response, deadlines, first)
    except asyncio.CancelledError:
        if response is not None:
            await response.aclose()
        if deadlines.watchdog.absorb():
            raise deadlines.error() from None
        raise
    except httpx.HTTPError as exc:
        # The connection closed under a sent request: most likely a pooled connection the
        # server had just dropped. A fresh one usually works, so the first retry is at once.
        return _Failed(_transport_error(exc, deadlines), _retryable_transport_error(exc),
                       stale=isinstance(exc, _STALE) and deadlines.state.retries == 0)
    finally:
        deadlines.watchdog.disarm()


async def _check_response(response: httpx.Response, deadlines: Deadlines,
                          first: float) -> httpx.Response | _Failed:
    """The response if it is an answer; an HTTP error as `_Failed`; a page or a redirect raises."""
    state, status = deadlines.state, response.status_code
    ctype = response.headers.get("content-type", "")
    if 200 <= status < 300 and "html" in ctype:
        await response.aclose()  # a login or proxy page answering with 200
        raise StreamFailed(f"{state.host} answered with an HTML page instead of a stream: "
                           "check the host setting (it must be the workspace URL)")
    if 300 <= status < 400:
        await response.aclose()
        where = one_line(response.headers.get("location", "elsewhere"), 80)
        raise DbChatError(f"{state.host} redirected the request (HTTP {status}) to {where}: "
                          "check the host setting (it must be the workspace URL)",
                          status_code=status)
    if status < 400:
        return response
    deadlines.arm(first, "first_byte")
    raw = await _read_bounded(response, _ERROR_BODY_LIMIT)
    await response.aclose()
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    failure = http_error(status, parse_error_body(raw, ctype), endpoint=state.endpoint,
                         host=state.host, source=state.source, retries=state.retries,
                         retry_after=retry_after, route=state.chat_route)
    return _Failed(failure, status in RETRY_STATUSES, retry_after)


def _retryable_transport_error(exc: httpx.HTTPError) -> bool:
    if isinstance(exc, httpx.ConnectError):
        text = cause_text(exc)
        return not any(w in text for w in ("name or service", "nodename", "getaddrinfo", "ssl",
                                           "certificate"))
    return isinstance(exc, httpx.ConnectTimeout | httpx.RemoteProtocolError | httpx.ReadError |
                      httpx.WriteError | httpx.PoolTimeout)


def _transport_error(exc: httpx.HTTPError, deadlines: Deadlines) -> DbChatError:
    settings, state = deadlines.settings, deadlines.state
    if isinstance(exc, httpx.ConnectTimeout):
        return RequestTimeout(f"could not connect to {state.host} within "
                              f"{settings.connect_timeout:g} s (connect_timeout); check the "
                              "workspace host and your network")
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeout(f"sending the request to {state.host} timed out "
                              f"({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        return connect_error(exc, state.host, state.retries)
    return DbChatError(f"the connection to {state.host} failed before an answer arrived: "
                       f"{one_line(str(exc), 120) or type(exc).__name__}")


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    parts, size = [], 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


# -- reading ----------------------------------------------------------------------------------

async def read_batches(opener: Callable[[], Awaitable[httpx.Response]], deadlines: Deadlines,
                       wire: WireFormat | Callable[[], WireFormat] = CHAT_COMPLETIONS,
                       ) -> AsyncGenerator[list[StreamEvent], None]:
    """Open the response with ``opener`` and yield its events in batches, one non-empty list per
    network piece, read in the ``wire`` format (or the one ``wire()`` names once the response is
    open: the opener may learn the endpoint's kind): a stream (usual) or one JSON body (a server
    ignoring ``stream``). The last batch ends with `StreamEnd`. Closes the response however the
    iteration ends.

    The loop below is the deadline loop: `BodyReader` reads each piece within its deadline, the
    framing and the normalizer turn it into events (kept inline: it runs once per token)."""
    try:
        response = await opener()
    except BaseException:
        deadlines.close()
        raise
    state = deadlines.state
    try:
        reader = BodyReader(body_pieces(response), deadlines)
        fmt = wire if isinstance(wire, WireFormat) else wire()
        normalizer = state.normalizer = fmt.normalizer()
        framing = await _framing(response, reader, deadlines)
        if framing is None:
            yield await _whole_body(reader, normalizer, state, deadlines.settings.max_body_bytes)
            return
        read, feed, add = reader.next, framing.feed, normalizer.add
        while not framing.ended and (piece := await read()) is not None:
            batch: list[StreamEvent] = []
            try:
                for payload in feed(piece):
                    add(payload, batch)
            except ReportedError as err:
                if batch:
                    yield batch  # what came before the error is kept
                raise _reported(err, framing, state) from None
            if framing.malformed:
                _skip_malformed(framing, state)
            if batch:
                yield batch
        yield await _end(reader, framing, normalizer, state)
    finally:
        deadlines.close()
        await response.aclose()
        if state.reservation is not None and state.total_tokens:
            state.reservation.settle(state.total_tokens)


async def _framing(response: httpx.Response, reader: BodyReader,
                   deadlines: Deadlines) -> Framing | None:
    """How to read this body; None for one JSON completion (declared, or ``{`` comes first)."""
    ctype = response.headers.get("content-type", "")
    max_event_bytes = deadlines.settings.max_event_bytes
    framing = framing_for(ctype, max_event_bytes)
    if framing is not None:
        return framing
    if ctype.startswith("application/json") or await reader.sniff_json():
        return None
    return SSEFraming(max_event_bytes)


async def _end(reader: BodyReader, framing: Framing, normalizer: Normalizer,
               state: CallState) -> list[StreamEvent]:
    """After the deadline loop: fail an oversized event, note a dropped connection, drain the
    rest after ``[DONE]`` or read what an unterminated last event held, and give the verdict."""
    if framing.too_large is not None:
        raise _too_large(framing, state)
    batch: list[StreamEvent] = []
    if reader.dropped is not None:
        log.info("stream from %s ended: %s", state.endpoint, reader.dropped)
        state.truncation = DROPPED_MID_ANSWER
    elif framing.done:
        await _drain(reader)
    else:
        try:
            for payload in framing.finish():
                normalizer.add(payload, batch)
        except ReportedError as err:
            raise _reported(err, framing, state) from None
        if framing.malformed:
            _skip_malformed(framing, state)
    if reader.empty:
        raise StreamFailed(empty_answer(state))
    return batch + _verdict(framing, normalizer, state)


DROPPED_MID_ANSWER = "the connection dropped mid-answer"


def _verdict(framing: Framing, normalizer: Normalizer, state: CallState) -> list[StreamEvent]:
    """The last batch: what the normalizer held back, then `StreamEnd` — "completed" when the
    body's end marker or a finish reason arrived, else "truncated" (``state.truncation`` why).
    Payloads none of which the normalizer could read fail (`StreamFailed`). An OpenAI-compatible
    server (not Databricks) always sends a finish_reason: ``[DONE]`` without one is a cut answer
    (llama.cpp ends the running answer so when a second arrives)."""
    batch = normalizer.flush()
    if normalizer.unread_keys is not None:
        raise StreamFailed(unknown_shape(state.endpoint, normalizer.unread_keys))
    finished = normalizer.finished or (framing.done and state.chat_route is None)
    if not finished and framing.done:
        state.truncation = ("the server ended the stream ([DONE]) without a finish_reason: the "
                            "answer was cut, e.g. by another request to a server that answers "
                            "one at a time")
    elif not finished and state.truncation is None:
        state.truncation = ("the stream stopped without [DONE] or a finish_reason "
                            "(dropped by a proxy?)")
    state.total_tokens = normalizer.total_tokens
    batch.append(StreamEnd("completed" if finished else "truncated",
                           normalizer.finish_reason, normalizer.model))
    return batch


def empty_answer(state: CallState) -> str:
    """The message for an answer body without a single byte."""
    why = ("; often the prompt exceeds the model's context" if is_local(state.host)
           else "; ask again, and if it repeats check the endpoint's logs")
    return f"endpoint '{state.endpoint}': the server sent an empty answer (HTTP 200){why}"


_SHAPE_HINTS = ((frozenset({"delta", "messages"}),
                 "it looks like a ChatAgent: set api = agent-chat"),
                (frozenset({"output", "type", "object"}),
                 "it looks like the Responses API: set api = responses"),
                (frozenset({"choices"}), "it looks like Chat Completions: set api = chat"))


def unknown_shape(endpoint: str, keys: tuple[str, ...]) -> str:
    """The message for an answer none of whose payloads this format reads."""
    hint = next((h for names, h in _SHAPE_HINTS if names & set(keys)), "")
    shown = one_line(", ".join(keys), 120) or "none"
    return (f"endpoint '{endpoint}' answered in a shape dbchat does not read (keys: {shown})"
            f"{'; ' + hint if hint else ''}")


async def read_events(batches: AsyncGenerator[list[StreamEvent], None],
                      ) -> AsyncIterator[StreamEvent]:
    """The events of `read_batches`, one at a time (closes ``batches`` when it ends)."""
    async with contextlib.aclosing(batches):
        async for batch in batches:
            for ev in batch:
                yield ev


async def _whole_body(reader: BodyReader, normalizer: Normalizer, state: CallState,
                      limit: int) -> list[StreamEvent]:
    """One JSON chat completion (a server that ignored ``stream``) as events; `StreamFailed`
    past ``max_body_bytes``, when the connection breaks or when it is no JSON object."""
    ep = state.endpoint
    body = bytearray()
    while (piece := await reader.next()) is not None:
        body += piece
        if len(body) > limit:
            raise StreamFailed(f"the answer body from endpoint '{ep}' is larger than "
                               f"{_size(limit)} (max_body_bytes); raise max_body_bytes if "
                               "that is expected")
    if reader.dropped is not None:
        why = one_line(str(reader.dropped), 120) or type(reader.dropped).__name__
        raise StreamFailed(f"the connection broke while the answer body from endpoint '{ep}' "
                           f"was read: {why}")
    if not body.strip():
        raise StreamFailed(empty_answer(state))
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise StreamFailed(f"endpoint '{ep}' sent a body that is not JSON") from None
    if not isinstance(payload, dict):
        raise StreamFailed(f"endpoint '{ep}' sent an unexpected JSON body")
    events: list[StreamEvent] = []
    try:
        normalizer.add(payload, events)
    except ReportedError as err:
        raise _reported(err, None, state) from None
    events += normalizer.flush()
    if normalizer.unread_keys is not None:
        raise StreamFailed(unknown_shape(ep, normalizer.unread_keys))
    state.total_tokens = normalizer.total_tokens
    events.append(StreamEnd("completed", normalizer.finish_reason, normalizer.model))
    return events


async def _drain(reader: BodyReader) -> None:
    """Read to the end after ``[DONE]`` so the connection goes back to the pool (bounded; a gap
    or a broken connection just ends it: the answer is complete)."""
    size = 0
    with contextlib.suppress(RequestTimeout):
        while size < _DRAIN_LIMIT:
            piece = await reader.next()
            if piece is None:
                return
            size += len(piece)


def _skip_malformed(framing: Framing, state: CallState) -> None:
    for raw in framing.malformed:
        state.warnings.append("skipped a malformed chunk from the endpoint")
        log.info("skipped a malformed chunk from %s: %.80r", state.endpoint, raw)
    framing.malformed.clear()


def _reported(err: ReportedError, framing: Framing | None, state: CallState) -> StreamFailed:
    """The failure for an error the server reported (malformed payloads before it noted)."""
    if framing is not None and framing.malformed:
        _skip_malformed(framing, state)
    return StreamFailed(f"endpoint '{state.endpoint}' reported an error mid-answer: "
                        f"{one_line(reason_first(str(err)), 200)}")


def _too_large(framing: Framing, state: CallState) -> StreamFailed:
    limit = framing.too_large.limit if framing.too_large is not None else 0
    return StreamFailed(f"endpoint '{state.endpoint}' sent an SSE line or event larger than "
                        f"{_size(limit)} (max_event_bytes); the partial answer is kept. Raise "
                        "max_event_bytes if that is expected")


def _size(n: int) -> str:
    """``16 MiB`` / ``256 KiB`` when whole, else bytes."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:,} bytes"
