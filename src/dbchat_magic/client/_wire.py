"""The seam between the network and the events, pure (no I/O, no clock): a response body's bytes
become JSON payloads (a `Framing`), and payloads become events (a `Normalizer`).

The deadline loop in `_transport` reads the pieces and feeds them here; tests feed bytes. Which
framing reads a body is chosen from its content type (`_formats.framing_for`), which normalizer
reads the payloads is chosen per request (`_formats.WireFormat`). A new wire format — Responses
API events (``{"type": "response.output_text.delta", …}``), agent ``{"delta": {…}}`` chunks, an
NDJSON body — is one more small class implementing one of these two protocols.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from dbchat_magic.events import StreamEvent, UsageUpdate
from dbchat_magic.sse import EventTooLarge, ServerSentEvent, SSEDecoder

Payload = dict[str, Any]
_DONE = b"[DONE]"


class ReportedError(Exception):
    """A payload was the server's report of an error (``str(err)`` is its message)."""


class Framing(Protocol):
    """A response body's bytes, fed in any pieces, → the JSON objects it carries."""

    done: bool
    """The body's own end marker arrived (SSE ``[DONE]``): the answer is complete."""
    too_large: EventTooLarge | None
    """A line or event grew past the limit: reading stops, the answer fails."""
    malformed: list[bytes]
    """Payloads that were not JSON, skipped (the reader logs and clears them)."""

    @property
    def ended(self) -> bool:
        """True once nothing more may be read (done, or too large)."""

    def feed(self, piece: bytes) -> list[Payload]:
        """The JSON objects completed by ``piece``, in order (others are skipped)."""

    def finish(self) -> list[Payload]:
        """At a clean end of the body: the objects of an unterminated last event or line."""


class Normalizer(Protocol):
    """One API's payloads → typed events, remembering model, finish reason and usage."""

    model: str | None
    finish_reason: str | None

    def add(self, payload: Payload, out: list[StreamEvent]) -> None:
        """Append the events of ``payload`` to ``out``; `ReportedError` if it reports an error."""

    def flush(self) -> list[StreamEvent]:
        """At the end of the body: what was held back (partial tokens, the last usage)."""

    def unsent_usage(self) -> UsageUpdate | None:
        """The last usage seen that no event carried yet (after a stop or an error)."""

    @property
    def finished(self) -> bool:
        """True when a payload said the answer is complete (e.g. a finish reason)."""

    @property
    def total_tokens(self) -> int | None:
        """The server's last total token count, if it sent one."""

    @property
    def unread_keys(self) -> tuple[str, ...] | None:
        """While no payload was read: the keys of the first one in a shape it does not read."""


class SSEFraming:
    """``text/event-stream``: each event's data is one JSON object; ``[DONE]`` ends the answer
    and nothing after it counts. A payload that is not JSON is skipped (kept in `malformed`), a
    JSON value that is not an object is skipped. ``max_event_bytes`` bounds a line and an event.
    At the end an unterminated last event still counts (``data: [DONE]`` with no blank line
    after it): the decoder's lenient end, not the standard's."""

    __slots__ = ("_decoder", "_feed", "done", "malformed", "too_large")

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._decoder = SSEDecoder(max_event_bytes=max_event_bytes, lenient_eof=True)
        self._feed = self._decoder.feed
        self.done = False
        self.too_large: EventTooLarge | None = None
        self.malformed: list[bytes] = []

    @property
    def ended(self) -> bool:
        """True after ``[DONE]`` or an oversized line/event."""
        return self.done or self.too_large is not None

    def feed(self, piece: bytes) -> list[Payload]:
        """The JSON objects of the events ``piece`` completes (those before an oversized one)."""
        try:
            events = self._feed(piece)
        except EventTooLarge as exc:  # the events before the oversized one still count
            events, self.too_large = exc.events, exc
        return self._payloads(events)

    def finish(self) -> list[Payload]:
        """The JSON object of an event the body ended without a blank line after."""
        return [] if self.ended else self._payloads(self._decoder.flush())

    def _payloads(self, events: list[ServerSentEvent]) -> list[Payload]:
        out: list[Payload] = []
        loads = orjson.loads
        for event in events:
            raw = event.raw_data
            if raw == _DONE:
                self.done = True
                break
            try:
                payload = loads(raw)
            except orjson.JSONDecodeError:
                self.malformed.append(raw)
                continue
            if payload.__class__ is dict:
                out.append(payload)
        return out


class NDJSONFraming:
    """``application/x-ndjson`` (JSON Lines): one JSON object per line; blank lines are skipped,
    a line that is not JSON goes to `malformed`. ``max_event_bytes`` bounds a line."""

    __slots__ = ("_held", "_limit", "done", "malformed", "too_large")

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._limit = max_event_bytes if max_event_bytes is not None else 1 << 62
        self._held = b""
        self.done = False
        self.too_large: EventTooLarge | None = None
        self.malformed: list[bytes] = []

    @property
    def ended(self) -> bool:
        """True after an oversized line."""
        return self.too_large is not None

    def feed(self, piece: bytes) -> list[Payload]:
        """The objects of the lines ``piece`` completes."""
        lines = (self._held + piece).split(b"\n")
        self._held = lines.pop()
        if len(self._held) > self._limit or any(len(line) > self._limit for line in lines):
            self.too_large, self._held = EventTooLarge(self._limit, []), b""
            return []
        return self._objects(lines)

    def finish(self) -> list[Payload]:
        """The object on a last line without a line end."""
        held, self._held = self._held, b""
        return self._objects([held]) if not self.ended else []

    def _objects(self, lines: list[bytes]) -> list[Payload]:
        out: list[Payload] = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                payload = orjson.loads(line)
            except orjson.JSONDecodeError:
                self.malformed.append(line)
                continue
            if payload.__class__ is dict:
                out.append(payload)
        return out
