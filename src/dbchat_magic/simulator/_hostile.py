"""Wire shapes of the hostile faults: oversized lines and bodies made piece by piece (never held
whole, so a 200 MB answer costs the simulator 64 KiB), and broken chunked framing."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dbchat_magic.simulator._faults import Fault

PIECE = 64 * 1024
_FILL = b"x" * PIECE
# The JSON around a huge content delta: valid if the client reads it to the end.
_LINE_HEAD = b'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"'
_LINE_TAIL = b'"},"finish_reason":null}]}'


@dataclass(frozen=True)
class SizedBody:
    """A 200 body as `Connection.send_sized` sends it: ``head``, ``fill`` filler bytes, ``tail``;
    ``content_type=""`` sends no Content-Type header."""

    head: bytes
    content_type: str = "application/json"
    fill: int = 0
    tail: bytes = b""


class RawPiece(bytes):
    """Bytes written as they are, outside the chunked framing (to break it on purpose)."""


def filler(size: int) -> Iterator[bytes]:
    """``size`` filler bytes in pieces of at most 64 KiB."""
    while size > 0:
        n = min(size, PIECE)
        yield _FILL if n == PIECE else _FILL[:n]
        size -= n


def huge_line(size: int, line_bytes: int | None, eol: bytes, end: bool = True) -> Iterator[bytes]:
    """One ``data:`` event whose content is ``size`` filler bytes: one line, or (``line_bytes``)
    a new ``data:`` line every ``line_bytes`` bytes of one event; ``end=False`` leaves the line
    unfinished (no closing JSON, no newline). Pieces of at most 64 KiB."""
    yield _LINE_HEAD
    step = line_bytes if line_bytes and line_bytes < size else size
    left = size
    while left > 0:
        n = min(step, left)
        yield from filler(n)
        left -= n
        if left > 0:
            yield eol + b"data: "
    if end:
        yield _LINE_TAIL + eol + eol


def broken_framing(kind: str) -> RawPiece:
    """What breaks the chunked body: an illegal chunk header ("bad_chunk") or a chunk that
    promises more bytes than come before the connection ends ("short_chunk")."""
    if kind == "bad_chunk":
        return RawPiece(b"zz-not-a-chunk-size\r\n")
    if kind == "short_chunk":
        return RawPiece(b"1000\r\ndata: {\"cho")
    raise ValueError(f"broken_framing kind must be bad_chunk or short_chunk (got {kind!r})")


def hostile_events(
    faults: dict[str, Fault], eol: bytes, events: Iterator[tuple[bytes, int]]
) -> Iterator[tuple[bytes, int]]:
    """``events`` (bytes, token count) with the "huge_line" event and the "broken_framing" bytes
    put after their ``after`` tokens; the stream ends at the broken framing."""
    huge, broken = faults.get("huge_line"), faults.get("broken_framing")
    if huge is None and broken is None:
        yield from events
        return
    at_huge = int(huge.params.get("after", 3)) if huge else -1
    at_broken = int(broken.params.get("after", 5)) if broken else -1
    tokens = 0
    for data, n in events:
        if tokens == at_huge and huge is not None:
            at_huge = -1
            size, end = int(huge.params.get("size", 200 << 20)), huge.params.get("end", True)
            for piece in huge_line(size, huge.params.get("line_bytes"), eol, bool(end)):
                yield piece, 0
            if not end:
                return  # the body ends inside the line
        if tokens == at_broken and broken is not None:
            yield broken_framing(str(broken.params.get("kind", "bad_chunk"))), 0
            return
        yield data, n
        tokens += n


FILL_MARK = "\u0000fill\u0000"


def fill_mark(fault: Fault | None) -> str:
    """What to append to the answer text so `sized_body` can pad it ("" when not padding)."""
    return FILL_MARK if fault is not None and int(fault.params.get("size", 0)) else ""


def sized_body(payload: dict[str, Any], fault: Fault | None) -> SizedBody:
    """A 200 JSON body for `Connection.send_sized`. With the "json_body" fault: its
    ``content_type`` ("" = none), and ``size`` filler bytes where `fill_mark` left its mark."""
    raw = json.dumps(payload, ensure_ascii=False)
    if fault is None:
        return SizedBody(raw.encode("utf-8"))
    ctype = str(fault.params.get("content_type", "application/json"))
    head, mark, tail = raw.partition(json.dumps(FILL_MARK)[1:-1])
    size = int(fault.params.get("size", 0)) if mark else 0
    return SizedBody(head.encode("utf-8"), ctype, size, tail.encode("utf-8"))


def echo_headers(headers: Mapping[str, str], fault: Fault | None) -> tuple[tuple[str, str], ...]:
    """The "header_echo" fault: the request's Authorization value (``bare``: without its
    scheme) in a response header, as a careless proxy might send it back."""
    if fault is None:
        return ()
    value = headers.get("authorization", "")
    if fault.params.get("bare"):
        value = value.partition(" ")[2] or value
    return ((str(fault.params.get("header", "X-Echo-Authorization")), value),)
