"""Incremental text/event-stream decoder working on raw bytes.

Follows the WHATWG HTML standard, "9.2.6 Interpreting an event stream":
https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

Lines end at CRLF, LF or CR (a CR ending one piece and an LF starting the next are one line end);
one leading UTF-8 BOM is ignored; lines starting with ``:`` are comments (keep-alives); ``data``
lines accumulate (joined with LF); ``event``, ``id`` (ignored if it holds NUL) and ``retry`` (ASCII
digits only) set their buffers; other fields are ignored; a blank line dispatches the event
unless its data buffer is empty. The input is split on bytes, never on decoded text, so U+2028,
U+2029 and U+0085 inside JSON strings are not line ends, and a UTF-8 character split across pieces
comes out whole.

``max_event_bytes`` bounds memory: a line (without its line end) or the data of one event longer
than that raises `EventTooLarge`, whatever the pieces, carrying the events completed before it.
"""

from __future__ import annotations

from dbchat_magic.sse._event import ServerSentEvent

_BOM = b"\xef\xbb\xbf"
_LF = 10
_CR = 13
_COLON = 58
_UNBOUNDED = 1 << 62


class EventTooLarge(ValueError):
    """A line or an event's data grew past ``max_event_bytes``; ``events`` were completed before
    it (in the piece that hit the limit) and are still valid. The decoder is reset."""

    def __init__(self, limit: int, events: list[ServerSentEvent]) -> None:
        super().__init__(f"an SSE line or event is larger than {limit:,} bytes")
        self.limit = limit
        self.events = events


class SSEDecoder:
    """Feed raw bytes in any pieces with `feed`; call `flush` once at end of stream.

    ``lenient_eof=False`` (the standard's rule) discards an event that the stream ends without a
    blank line after; ``True`` dispatches it from `flush` instead. ``max_event_bytes`` (None =
    unbounded) caps a line and an event's data (`EventTooLarge`).
    """

    __slots__ = ("_cr", "_data", "_data_size", "_dispatched_id", "_event", "_event_retry", "_head",
                 "_last_id", "_max", "_pending", "_pending_size", "lenient_eof", "retry")

    def __init__(self, *, lenient_eof: bool = False, max_event_bytes: int | None = None) -> None:
        self.lenient_eof = lenient_eof
        self._max = _UNBOUNDED if max_event_bytes is None else max_event_bytes
        self._pending_size = 0  # bytes in ``_pending``
        self._data_size = 0  # bytes in ``_data``
        self.retry: int | None = None  # the stream's reconnection time (ms), if the server set one
        self._head: bytes | None = b""  # bytes held until the BOM check is possible; None after
        self._cr = False  # the previous piece ended with CR
        self._pending: list[bytes] = []  # the unfinished last line, in pieces
        self._data: list[bytes] = []
        self._event = ""
        self._event_retry: int | None = None
        self._last_id = ""  # the last event ID buffer
        self._dispatched_id = ""  # what it was at the last blank line (the stream's last ID)

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one piece of the stream; return the events it completes (often none or one)."""
        # Byte tests use ints (``13 in chunk``): a bytes needle costs ~10x more per call.
        if (chunk[-2:] == b"\n\n" and chunk[:6] == b"data: " and not self._pending
                and not self._data and _CR not in chunk and self._head is None and not self._cr
                and not self._event):
            value = chunk[6:-2]  # the usual piece: exactly one one-line data event
            if _LF not in value and len(chunk) <= self._max:
                event = ServerSentEvent("message", value, self._last_id, self._event_retry)
                self._event_retry = None
                self._dispatched_id = self._last_id
                return [event]
        if self._head is not None or self._cr or _CR in chunk:
            chunk = self._line_ends(chunk)
        if self._pending:
            self._pending.append(chunk)
            if _LF not in chunk:
                self._pending_size += len(chunk)
                if self._pending_size > self._max:
                    self._too_large([])
                return []
            chunk = b"".join(self._pending)
            self._pending = []  # (its size is set afresh when the next unfinished line starts)
        elif _LF not in chunk:
            if chunk:
                self._pending.append(chunk)
                self._pending_size = len(chunk)
                if self._pending_size > self._max:
                    self._too_large([])
            return []
        if len(chunk) > self._max:
            return self._checked(chunk)
        return self._blocks(chunk)

    def _too_large(self, events: list[ServerSentEvent]) -> None:
        """Drop what is buffered (the memory is the point) and raise `EventTooLarge`."""
        self._pending, self._pending_size = [], 0
        self._data, self._data_size = [], 0
        self._event, self._event_retry = "", None
        raise EventTooLarge(self._max, events)

    def _checked(self, buf: bytes) -> list[ServerSentEvent]:
        """A piece longer than the limit: line by line, checking each line's length."""
        lines = buf.split(b"\n")
        tail = lines.pop()
        events: list[ServerSentEvent] = []
        for i, line in enumerate(lines):
            if len(line) > self._max:
                events += self._lines(lines[:i])
                self._too_large(events)
        events += self._lines(lines)
        if tail:
            if len(tail) > self._max:
                self._too_large(events)
            self._pending, self._pending_size = [tail], len(tail)
        return events

    def _line_ends(self, chunk: bytes) -> bytes:
        """Drop a leading BOM and turn CRLF/CR into LF (a CR ending one piece and an LF starting
        the next are one line end); b"" while the first bytes could still be a BOM."""
        if self._head is not None:
            chunk = self._head + chunk
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._head = chunk
                return b""
            self._head = None
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if self._cr and chunk:
            self._cr = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
        if _CR in chunk:
            self._cr = chunk[-1] == _CR
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return chunk

    def flush(self) -> list[ServerSentEvent]:
        """End of stream. By the standard, the unterminated last line and the unfinished event
        are discarded, and an ``id`` seen since the last blank line never becomes the last event
        ID; ``lenient_eof`` instead applies that line and dispatches the event. Resets the
        decoder for a new stream (the last dispatched event ID is kept)."""
        events: list[ServerSentEvent] = []
        if self.lenient_eof:
            tail = b"".join(self._pending) if self._pending else (self._head or b"")
            events = self._lines([tail, b""] if tail else [b""])
        else:
            self._last_id = self._dispatched_id
        self._head, self._cr, self._pending, self._pending_size = b"", False, [], 0
        self._data, self._data_size, self._event, self._event_retry = [], 0, "", None
        return events

    def _blocks(self, buf: bytes) -> list[ServerSentEvent]:
        """Split on blank lines first: an event that is one ``data: `` line (the usual case)
        skips the line-by-line path."""
        blocks = buf.split(b"\n\n")
        rest = blocks.pop()  # after the last blank line: complete lines plus an unfinished one
        events: list[ServerSentEvent] = []
        try:
            start = 0
            if blocks and (self._data or self._event or self._event_retry is not None):
                events += self._lines([*blocks[0].split(b"\n"), b""])
                start = 1
            last_id = self._last_id
            for block in blocks[start:] if start else blocks:
                if block[:6] == b"data: " and _LF not in block:
                    events.append(ServerSentEvent("message", block[6:], last_id, None))
                else:
                    events += self._lines([*block.split(b"\n"), b""])
                    last_id = self._last_id
            if blocks:
                self._dispatched_id = last_id
            if rest:
                lines = rest.split(b"\n")
                tail = lines.pop()
                if lines:
                    events += self._lines(lines)
                if tail:
                    self._pending.append(tail)
                    self._pending_size = len(tail)
        except EventTooLarge as exc:  # an event's data ran over: keep the events before it
            exc.events[:0] = events
            raise
        return events

    def _lines(self, lines: list[bytes]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            if not line:  # blank line: dispatch
                self._dispatched_id = self._last_id
                if data:
                    events.append(ServerSentEvent(
                        self._event or "message",
                        data[0] if len(data) == 1 else b"\n".join(data),
                        self._last_id, self._event_retry))
                    data = self._data = []
                    self._data_size = 0
                self._event = ""
                self._event_retry = None
            elif line.startswith(b"data:"):  # the hot path
                value = line[5:]
                if value[:1] == b" ":
                    value = value[1:]
                data.append(value)
                self._data_size += len(value)
                if self._data_size > self._max:
                    self._too_large(events)
            elif line[0] != _COLON:  # not a comment
                self._field(line, events)
        return events

    def _field(self, line: bytes, events: list[ServerSentEvent]) -> None:
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
            self._data_size += len(value)
            if self._data_size > self._max:
                self._too_large(events)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\x00" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self.retry = self._event_retry = int(value)
