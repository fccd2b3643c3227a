"""One chat request on the wire: send with retries before the first byte, then read the SSE
stream to events, with first-byte/gap/total deadlines; drain after ``[DONE]`` to keep the
connection for the next request. A body not declared ``text/event-stream`` that starts with
``{`` is one JSON completion. Memory is bounded: ``max_event_bytes`` per SSE line/event,
``max_body_bytes`` per whole body, 64 KiB of an error body."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

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
)
from dbchat_magic.client._normalize import ChunkNormalizer, stream_error
from dbchat_magic.client._retry import RETRY_STATUSES, Backoff, parse_retry_after
from dbchat_magic.errors import DbChatError, RequestTimeout, StreamFailed
from dbchat_magic.events import StreamEnd, StreamEvent
from dbchat_magic.sse import EventTooLarge, SSEDecoder

log = scrubbed_logger("dbchat_magic.client")

_ERROR_BODY_LIMIT = 64 * 1024
_DRAIN_LIMIT = 64 * 1024
_SNIFF_LIMIT = 64 * 1024  # blank bytes read before deciding a body without a stream type is SSE
_DONE = b"[DONE]"


_STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def _retryable_transport_error(exc: httpx.HTTPError) -> bool:
    if isinstance(exc, httpx.ConnectError):
        text = cause_text(exc)
        return not any(w in text for w in ("name or service", "nodename", "getaddrinfo", "ssl",
                                           "certificate"))
    return isinstance(exc, httpx.ConnectTimeout | httpx.RemoteProtocolError | httpx.ReadError |
                      httpx.WriteError | httpx.PoolTimeout)


def _transport_error(exc: httpx.HTTPError, dl: Deadlines) -> DbChatError:
    s, state = dl.s, dl.state
    if isinstance(exc, httpx.ConnectTimeout):
        return RequestTimeout(f"could not connect to {state.host} within {s.connect_timeout:g} s "
                              "(connect_timeout); check the workspace host and your network")
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


async def open_stream(http: httpx.AsyncClient, provider: CredentialProvider, url: str,
                      body: bytes, dl: Deadlines, backoff: Backoff) -> httpx.Response:
    """POST the request; retry 429/5xx and transient connection errors (Retry-After honoured,
    bounded by ``max_retries`` and the total deadline); return the open 2xx response."""
    s, state, wd = dl.s, dl.state, dl.wd
    while True:
        headers = await provider.headers()
        headers["Accept"] = "text/event-stream"
        headers["Content-Type"] = "application/json"
        request = http.build_request("POST", url, content=body, headers=headers)
        first = dl.arm_first_byte()
        failure: DbChatError | None = None
        retry_after: float | None = None
        response: httpx.Response | None = None
        try:
            response = await http.send(request, stream=True)
            ctype = response.headers.get("content-type", "")
            if 200 <= response.status_code < 300 and "html" in ctype:
                await response.aclose()  # a login or proxy page answering with 200
                raise StreamFailed(f"{state.host} answered with an HTML page instead of a stream: "
                                   "check the host setting (it must be the workspace URL)")
            if 300 <= response.status_code < 400:
                await response.aclose()
                where = one_line(response.headers.get("location", "elsewhere"), 80)
                raise DbChatError(f"{state.host} redirected the request (HTTP "
                                  f"{response.status_code}) to {where}: check the host setting "
                                  "(it must be the workspace URL)",
                                  status_code=response.status_code)
            if response.status_code >= 400:
                dl.arm(first, "first_byte")
                raw = await _read_bounded(response, _ERROR_BODY_LIMIT)
                await response.aclose()
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                err = parse_error_body(raw, ctype)
                failure = http_error(status, err, endpoint=state.endpoint, host=state.host,
                                     source=state.source, retries=state.retries,
                                     retry_after=retry_after)
                retryable = status in RETRY_STATUSES
            else:
                return response
        except asyncio.CancelledError:
            if response is not None:
                await response.aclose()
            if wd.absorb():
                raise dl.error() from None
            raise
        except httpx.HTTPError as exc:
            failure = _transport_error(exc, dl)
            retryable = _retryable_transport_error(exc)
            # The connection closed under a sent request: most likely a pooled connection the
            # server had just dropped. A fresh one usually works, so the first retry is at once.
            stale = isinstance(exc, _STALE) and state.retries == 0
        else:
            stale = False
        finally:
            wd.disarm()
        delay = (0.0 if stale else backoff.delay(state.retries, retry_after)) if retryable else None
        if (delay is None or state.retries >= s.max_retries
                or dl.loop.time() + delay >= dl.total):
            raise failure
        log.info("retrying %s in %.2f s: %s", state.endpoint, delay, failure)
        state.retries += 1
        if state.on_retry is not None:
            state.on_retry(state.retries, str(failure))
        await asyncio.sleep(delay)


async def read_batches(opener: Callable[[], Awaitable[httpx.Response]],
                       dl: Deadlines) -> AsyncIterator[list[StreamEvent]]:
    """Open the response with ``opener`` and yield its events in batches, one non-empty list per
    network piece: SSE (usual) or one JSON body (a server ignoring ``stream``). The last batch
    ends with `StreamEnd`. Closes the response however the iteration ends."""
    try:
        response = await opener()
    except BaseException:
        dl.close()
        raise
    try:
        ctype = response.headers.get("content-type", "")
        chunks = body_pieces(response)
        if not ctype.startswith("text/event-stream"):
            # Not declared a stream: a whole JSON completion (declared, or sniffed: "{" first).
            is_json, chunks = await _sniff(chunks, dl, ctype.startswith("application/json"))
            if is_json:
                yield await _whole_body(chunks, dl)
                return
        state, wd, loop, gap, total = dl.state, dl.wd, dl.loop, dl.s.gap_timeout, dl.total
        normalizer = state.normalizer = ChunkNormalizer()
        add = normalizer.add
        feed = SSEDecoder(max_event_bytes=dl.s.max_event_bytes).feed
        too_large: EventTooLarge | None = None
        loads = orjson.loads
        # The default loop's clock is time.monotonic: call it directly on the hot path.
        now = time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        done = first = False
        dl.arm(dl.first_byte, "first_byte")
        while not done:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except asyncio.CancelledError:
                if wd.absorb():
                    raise dl.error() from None
                raise
            except httpx.HTTPError as exc:
                log.info("stream from %s ended: %s", state.endpoint, exc)
                state.truncation = "the connection dropped mid-answer"
                break
            wd.deadline = None  # consumer time between chunks never counts
            batch: list[StreamEvent] = []
            try:
                sses = feed(chunk)
            except EventTooLarge as exc:  # the events before the oversized one still count
                sses, too_large, done = exc.events, exc, True
            for sse in sses:
                raw = sse.raw_data
                if raw == _DONE:
                    done = True
                    break
                try:
                    obj = loads(raw)
                except orjson.JSONDecodeError:
                    state.warnings.append("skipped a malformed chunk from the endpoint")
                    log.info("skipped a malformed chunk from %s: %.80r", state.endpoint, raw)
                    continue
                if obj.__class__ is not dict:
                    continue
                if "error_code" in obj or "error" in obj:
                    if batch and stream_error(obj):
                        yield batch  # what came before the error is kept
                        batch = []
                    _raise_stream_error(obj, state)
                add(obj, batch)
            if batch:
                yield batch
            deadline = now() + gap
            if not first or not wd.scheduled or deadline >= total:  # first chunk: gap takes over
                first = True
                dl.arm(deadline, "gap")
            else:
                wd.deadline = deadline
        wd.deadline = None
        if too_large is not None:
            raise StreamFailed(f"endpoint '{state.endpoint}' sent an SSE line or event larger "
                               f"than {_size(too_large.limit)} (max_event_bytes); the partial "
                               "answer is kept. Raise max_event_bytes if that is expected")
        if done:
            await _drain(chunks, dl)
        batch = normalizer.flush()
        finished = done or normalizer.finish_reason is not None
        if not finished and state.truncation is None:
            state.truncation = ("the stream stopped without [DONE] or a finish_reason "
                                "(dropped by a proxy?)")
        state.total_tokens = normalizer.total_tokens
        batch.append(StreamEnd("completed" if finished else "truncated",
                               normalizer.finish_reason, normalizer.model))
        yield batch
    finally:
        dl.close()
        await response.aclose()
        if dl.state.reservation is not None and dl.state.total_tokens:
            dl.state.reservation.settle(dl.state.total_tokens)


async def read_events(batches: AsyncIterator[list[StreamEvent]]) -> AsyncIterator[StreamEvent]:
    """The events of `read_batches`, one at a time (closes ``batches`` when it ends)."""
    async with contextlib.aclosing(batches):
        async for batch in batches:
            for ev in batch:
                yield ev


def _raise_stream_error(obj: dict, state: CallState) -> None:
    message = stream_error(obj)
    if message:
        raise StreamFailed(f"endpoint '{state.endpoint}' reported an error mid-answer: "
                           f"{one_line(message, 200)}")


def _size(n: int) -> str:
    """``16 MiB`` / ``256 KiB`` when whole, else bytes."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:,} bytes"


async def _prefixed(head: list[bytes], rest: AsyncIterator[bytes],
                    error: BaseException | None) -> AsyncIterator[bytes]:
    """The pieces `_sniff` read, then (its read error or) the rest."""
    for piece in head:
        yield piece
    if error is not None:
        raise error
    async for piece in rest:
        yield piece


async def _sniff(chunks: AsyncIterator[bytes], dl: Deadlines,
                 declared: bool) -> tuple[bool, AsyncIterator[bytes]]:
    """Whether a body that is not declared a stream is one JSON object (declared JSON, or ``{``
    is its first non-blank byte), and its pieces with what was read put back."""
    if declared:
        return True, chunks
    head: list[bytes] = []
    size = 0
    error: BaseException | None = None
    dl.arm(dl.first_byte, "first_byte")
    try:
        while size < _SNIFF_LIMIT:
            piece = await chunks.__anext__()
            head.append(piece)
            size += len(piece)
            if piece.strip():
                break
    except StopAsyncIteration:
        pass
    except asyncio.CancelledError:
        if dl.wd.absorb():
            raise dl.error() from None
        raise
    except httpx.HTTPError as exc:
        error = exc  # raised again where the stream is read, after what came before it
    finally:
        dl.wd.disarm()
    return b"".join(head).lstrip()[:1] == b"{", _prefixed(head, chunks, error)


async def _read_whole(chunks: AsyncIterator[bytes], dl: Deadlines) -> bytearray:
    """The whole body, first piece within the first-byte deadline, then each within the gap;
    `StreamFailed` past ``max_body_bytes`` or when the connection breaks."""
    limit, ep = dl.s.max_body_bytes, dl.state.endpoint
    body = bytearray()
    deadline, what = dl.first_byte, "first_byte"
    try:
        while True:
            dl.arm(deadline, what)
            try:
                body += await chunks.__anext__()
            except StopAsyncIteration:
                return body
            if len(body) > limit:
                raise StreamFailed(f"the answer body from endpoint '{ep}' is larger than "
                                   f"{_size(limit)} (max_body_bytes); raise max_body_bytes if "
                                   "that is expected")
            deadline, what = dl.loop.time() + dl.s.gap_timeout, "gap"
    except asyncio.CancelledError:
        if dl.wd.absorb():
            raise dl.error() from None
        raise
    except httpx.HTTPError as exc:
        raise StreamFailed(f"the connection broke while the answer body from endpoint '{ep}' "
                           f"was read: {one_line(str(exc), 120) or type(exc).__name__}") from None
    finally:
        dl.wd.disarm()


async def _whole_body(chunks: AsyncIterator[bytes], dl: Deadlines) -> list[StreamEvent]:
    """One JSON chat completion (a server that ignored ``stream``) as events."""
    normalizer = ChunkNormalizer()
    try:
        obj = orjson.loads(await _read_whole(chunks, dl))
    except orjson.JSONDecodeError:
        raise StreamFailed(f"endpoint '{dl.state.endpoint}' sent a body that is not JSON") \
            from None
    if not isinstance(obj, dict):
        raise StreamFailed(f"endpoint '{dl.state.endpoint}' sent an unexpected JSON body")
    if "error_code" in obj or "error" in obj:
        _raise_stream_error(obj, dl.state)
    events = normalizer.events(obj) + normalizer.flush()
    dl.state.total_tokens = normalizer.total_tokens
    events.append(StreamEnd("completed", normalizer.finish_reason, normalizer.model))
    return events


async def _drain(chunks: AsyncIterator[bytes], dl: Deadlines) -> None:
    """Read to the end after ``[DONE]`` so the connection goes back to the pool (bounded)."""
    size = 0
    try:
        while size < _DRAIN_LIMIT:
            dl.arm(dl.loop.time() + dl.s.gap_timeout, "gap")
            try:
                size += len(await chunks.__anext__())
            finally:
                dl.wd.disarm()
    except StopAsyncIteration:
        return
    except asyncio.CancelledError:
        if not dl.wd.absorb():
            raise
    except httpx.HTTPError:
        return
