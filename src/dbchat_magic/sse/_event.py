"""`ServerSentEvent`: one dispatched event of a text/event-stream."""

from __future__ import annotations


class ServerSentEvent:
    """An event as the WHATWG rules dispatch it.

    ``data`` is decoded from UTF-8 on first access; ``raw_data`` is the undecoded bytes (what a
    JSON parser wants). ``id`` is the stream's last event ID at dispatch time; ``retry`` is a
    reconnection time (ms) given in this event's lines, if any.
    """

    __slots__ = ("_data", "event", "id", "raw_data", "retry")

    def __init__(self, event: str = "message", data: str | bytes = b"", id: str = "",
                 retry: int | None = None) -> None:
        self.event = event
        if isinstance(data, str):
            self._data: str | None = data
            self.raw_data = data.encode("utf-8")
        else:
            self._data = None
            self.raw_data = data
        self.id = id
        self.retry = retry

    @property
    def data(self) -> str:
        """The event's data as text (lines joined with ``\\n``)."""
        if self._data is None:
            self._data = self.raw_data.decode("utf-8", "replace")
        return self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.event, self.raw_data, self.id, self.retry) == (
            other.event, other.raw_data, other.id, other.retry)

    def __hash__(self) -> int:
        return hash((self.event, self.raw_data, self.id, self.retry))

    def __repr__(self) -> str:
        return (f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r}, "
                f"retry={self.retry!r})")
