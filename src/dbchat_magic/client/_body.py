"""The body of a streamed response as byte pieces, one per network read where possible.

httpx hands over a streamed HTTP/1.1 body one HTTP chunk at a time through five async-generator
layers (httpx → httpcore pool → connection) and an exception-mapping context manager per chunk;
for a chat stream (one chunk per token) that plumbing costs more than parsing the token (figures in
bench/RESULTS.md, "Engine"). For a plain httpcore HTTP/1.1 connection we ask its h11 state machine
for the body directly and join all chunks of one network read into one piece. h11 still parses
the framing, so the connection ends in the state httpcore expects and goes back to the pool as
before. Anything else (HTTP/2, proxies, mock transports, content-encoding, other httpcore
internals) reads through httpx's public iterators.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

# h11 and httpcore are imported on the first request, as httpx itself does (not at import).

_READ_BYTES = 64 * 1024  # httpcore's own read size


def body_pieces(response: httpx.Response) -> AsyncIterator[bytes]:
    """An iterator over the raw (or, when content-encoded, decoded) body of ``response``.

    Errors while reading are httpx errors, as with ``aiter_raw``; closing ``response`` closes the
    connection unless the whole body was read (then it is reused)."""
    if "content-encoding" in response.headers:
        return response.aiter_bytes().__aiter__()
    conn = _h11_connection(response)
    if conn is None:
        return response.aiter_raw().__aiter__()
    timeout = (response.request.extensions.get("timeout") or {}).get("read")
    return _read_h11(conn._h11_state, conn._network_stream, timeout)


def _h11_connection(response: httpx.Response) -> Any:
    """httpcore's HTTP/1.1 connection behind ``response``, or None if the stream is not the
    plain httpx → httpcore pool → HTTP/1.1 chain this module knows."""
    import h11

    if response.http_version != "HTTP/1.1":
        return None
    stream: Any = response.stream
    for attr in ("_stream", "_httpcore_stream", "_stream"):
        stream = getattr(stream, attr, None)
    if type(stream).__name__ != "HTTP11ConnectionByteStream" or getattr(stream, "_closed", True):
        return None
    conn = getattr(stream, "_connection", None)
    state = getattr(conn, "_h11_state", None)
    if (not isinstance(state, h11.Connection) or state.their_state is not h11.SEND_BODY
            or not hasattr(getattr(conn, "_network_stream", None), "read")):
        return None
    return conn


async def _read_h11(state: Any, stream: Any,
                    timeout: float | None) -> AsyncIterator[bytes]:
    """Body pieces straight from the h11 state: every chunk h11 has buffered, joined, then one
    network read; ends at the end of the message."""
    import h11
    import httpcore

    next_event, receive = state.next_event, state.receive_data
    data_cls, need_data = h11.Data, h11.NEED_DATA
    parts: list[Any] = []
    failure: httpx.HTTPError | None = None
    try:
        while True:
            event = next_event()
            if event.__class__ is data_cls:
                parts.append(event.data)
            elif event is need_data:
                if parts:
                    piece = b"".join(parts)
                    parts.clear()
                    yield piece
                receive(await stream.read(_READ_BYTES, timeout))
            else:  # EndOfMessage (or PAUSED / ConnectionClosed after it)
                break
    except h11.RemoteProtocolError as exc:
        failure = httpx.RemoteProtocolError(str(exc) or "the server broke the HTTP framing")
    except httpcore.TimeoutException as exc:
        failure = httpx.ReadTimeout(str(exc) or "read timed out")
    except httpcore.NetworkError as exc:
        failure = httpx.ReadError(str(exc) or "the connection failed")
    if parts:  # the body that arrived before a framing error is still the body
        yield b"".join(parts)
    if failure is not None:
        raise failure
