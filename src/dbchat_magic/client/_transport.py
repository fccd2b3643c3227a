"""One chat request on the wire: send with retries before the first byte, then read the SSE
stream to events, with first-byte/gap/total deadlines; drain after ``[DONE]`` to keep the
connection for the next request."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from dbchat_magic.auth import CredentialProvider, scrubbed_logger
from dbchat_magic.client._body import body_pieces
from dbchat_magic.client._errors import (
    cause_text,
    connect_error,
    http_error,
    one_line,
    parse_error_body,
)
from dbchat_magic.client._normalize import ChunkNormalizer, stream_error
from dbchat_magic.client._retry import RETRY_STATUSES, Backoff, parse_retry_after
from dbchat_magic.client._watchdog import Watchdog
from dbchat_magic.config import Settings
from dbchat_magic.errors import DbChatError, RequestTimeout, StreamFailed
from dbchat_magic.events import StreamEnd, StreamEvent
from dbchat_magic.sse import SSEDecoder

log = scrubbed_logger("dbchat_magic.client")

_ERROR_BODY_LIMIT = 64 * 1024
_DRAIN_LIMIT = 64 * 1024
_DONE = b"[DONE]"


@dataclass(slots=True)
class CallState:
    """What one request learned besides its events (read by `complete` for the result)."""

    endpoint: str
    host: str = ""
    source: str = ""
    retries: int = 0
    truncation: str | None = None
    total_tokens: int | None = None  # the server's final count, when it sent one
    reservation: Any = None  # a rate-limiter `Reservation` to settle with the real count
    on_retry: Callable[[int, str], None] | None = None  # told before each retry's wait
    warnings: list[str] = field(default_factory=list)
    normalizer: ChunkNormalizer | None = None  # the live stream's, for usage seen before a stop


class Deadlines:
    """The loop-time deadlines of one request and the messages naming the setting that ran out.

    Made outside the event loop; `start` (inside the task that streams) creates the watchdog and
    starts the total deadline."""

    def __init__(self, settings: Settings, state: CallState) -> None:
        self.s = settings
        self.state = state
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by start
        self.wd: Watchdog = None  # type: ignore[assignment]
        self.total = self.first_byte = float("inf")

    def start(self) -> None:
        """Begin the total deadline now, watching the current task."""
        self.loop = asyncio.get_running_loop()
        self.wd = Watchdog(self.loop, asyncio.current_task())
        self.total = self.first_byte = self.loop.time() + self.s.total_timeout

    def close(self) -> None:
        """Drop the watchdog's timer."""
        if self.wd is not None:
            self.wd.close()

    def arm_first_byte(self) -> float:
        """Arm until the first byte is due; returns that deadline (reused for the first chunk)."""
        self.first_byte = self.loop.time() + self.s.first_byte_timeout
        self.arm(self.first_byte, "first_byte")
        return self.first_byte

    def arm(self, deadline: float, what: str) -> None:
        """Arm the watchdog for ``deadline`` or the total deadline, whichever comes first."""
        if deadline >= self.total:
            self.wd.arm(self.total, "total")
        else:
            self.wd.arm(deadline, what)

    def error(self) -> RequestTimeout:
        """The timeout error for the deadline that fired."""
        ep, s = self.state.endpoint, self.s
        what = self.wd.fired
        if what == "first_byte":
            msg = (f"no answer from endpoint '{ep}' within {s.first_byte_timeout:g} s "
                   "(first_byte_timeout); it may be scaling up from zero: ask again in a minute")
        elif what == "gap":
            msg = (f"the stream from endpoint '{ep}' stalled for {s.gap_timeout:g} s "
                   "(gap_timeout); the partial answer is kept")
        else:
            msg = (f"the answer from endpoint '{ep}' took longer than {s.total_timeout:g} s "
                   "(total_timeout)")
        return RequestTimeout(msg)


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
        if response.headers.get("content-type", "").startswith("application/json"):
            yield await _whole_body(response, dl)
            return
        state, wd, loop, gap, total = dl.state, dl.wd, dl.loop, dl.s.gap_timeout, dl.total
        normalizer = state.normalizer = ChunkNormalizer()
        add = normalizer.add
        chunks = body_pieces(response)
        feed = SSEDecoder().feed
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
            for sse in feed(chunk):
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


async def _whole_body(response: httpx.Response, dl: Deadlines) -> list[StreamEvent]:
    normalizer = ChunkNormalizer()
    dl.arm(dl.first_byte, "first_byte")
    try:
        obj = orjson.loads(await response.aread())
    except asyncio.CancelledError:
        if dl.wd.absorb():
            raise dl.error() from None
        raise
    except orjson.JSONDecodeError:
        raise StreamFailed(f"endpoint '{dl.state.endpoint}' sent a body that is not JSON") \
            from None
    finally:
        dl.wd.disarm()
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
