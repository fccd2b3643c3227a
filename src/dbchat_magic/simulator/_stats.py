"""Counters a test can read: requests, connections, disconnects, bodies and headers, a log."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Disconnect:
    """The client went away mid-response: when (``time.monotonic()``) and how far it got."""

    at: float
    tokens_sent: int
    endpoint: str | None
    request_number: int


@dataclass
class LogEntry:
    """One request as the simulator handled it.

    ``text`` is the answer a correct client should show (special tokens and framing removed),
    ``faults`` the faults applied, ``tokens_sent`` how many content tokens went out.
    """

    number: int
    method: str
    path: str
    endpoint: str | None
    status: int = 0
    stream: bool = False
    faults: list[str] = field(default_factory=list)
    text: str = ""
    reasoning: str = ""
    tokens_sent: int = 0
    finish_reason: str | None = None
    started: float = 0.0
    connection: int = 0


REDACTED = "Bearer <redacted>"
LOG_LIMIT = 5000


@dataclass
class Stats:
    """Live counters; written by the server thread, safe to read from any thread."""

    requests: int = 0
    lookups: int = 0  # GET /api/2.0/serving-endpoints/{name}: a client reading a task
    connections_opened: int = 0
    idle_closed: int = 0  # keep-alive connections the server closed after idle_timeout
    disconnects: list[Disconnect] = field(default_factory=list)
    last_body: dict[str, Any] | None = None
    last_headers: dict[str, str] | None = None
    requests_by_endpoint: Counter[str] = field(default_factory=Counter)
    log: list[LogEntry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_request(
        self, entry: LogEntry, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> None:
        """Count a request and remember its body and (redacted) headers."""
        shown = {k: (REDACTED if k == "authorization" else v) for k, v in headers.items()}
        with self._lock:
            self.requests += 1
            self.last_body = body
            self.last_headers = shown
            if entry.endpoint is not None:
                self.requests_by_endpoint[entry.endpoint] += 1
            self.log.append(entry)
            if len(self.log) > LOG_LIMIT:  # a long demo session must not grow without bound
                del self.log[: LOG_LIMIT // 5]

    def record_lookup(self) -> None:
        """Count one endpoint-details GET (kept apart so request counts stay per question)."""
        with self._lock:
            self.lookups += 1

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready snapshot (served at ``GET /_sim/stats``)."""
        with self._lock:
            return {
                "requests": self.requests,
                "lookups": self.lookups,
                "connections_opened": self.connections_opened,
                "idle_closed": self.idle_closed,
                "disconnects": [vars(d).copy() for d in self.disconnects],
                "requests_by_endpoint": dict(self.requests_by_endpoint),
                "last_body": self.last_body,
                "last_headers": self.last_headers,
                "log": [vars(e).copy() for e in self.log[-50:]],
            }

    def reset(self) -> None:
        """Zero every counter and forget bodies, headers and the log."""
        with self._lock:
            self.requests = 0
            self.lookups = 0
            self.connections_opened = 0
            self.idle_closed = 0
            self.disconnects.clear()
            self.last_body = None
            self.last_headers = None
            self.requests_by_endpoint.clear()
            self.log.clear()
