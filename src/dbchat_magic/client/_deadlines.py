"""What one request learned besides its events (`CallState`) and its deadlines (`Deadlines`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dbchat_magic.client._watchdog import Watchdog
from dbchat_magic.client._wire import Normalizer
from dbchat_magic.config import Settings
from dbchat_magic.errors import RequestTimeout


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
    normalizer: Normalizer | None = None  # the live stream's, for usage seen before a stop
    api: str = "chat"  # how the request was sent (`dbchat_magic.config.APIS`)
    chat_route: str | None = None  # an OpenAI-style server's chat URL (a 404 names it)


class Deadlines:
    """The loop-time deadlines of one request and the messages naming the setting that ran out.

    Made outside the event loop; `start` (inside the task that streams) creates the watchdog and
    starts the total deadline."""

    def __init__(self, settings: Settings, state: CallState) -> None:
        self.settings = settings
        self.state = state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: Watchdog | None = None
        self.total = self.first_byte = float("inf")

    def start(self) -> None:
        """Begin the total deadline now, watching the current task."""
        loop = self._loop = asyncio.get_running_loop()
        self._watchdog = Watchdog(loop, asyncio.current_task())
        self.total = self.first_byte = loop.time() + self.settings.total_timeout

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop of the streaming task (after `start`)."""
        if self._loop is None:
            raise RuntimeError("Deadlines.start() was not called")
        return self._loop

    @property
    def watchdog(self) -> Watchdog:
        """The watchdog of the streaming task (after `start`)."""
        if self._watchdog is None:
            raise RuntimeError("Deadlines.start() was not called")
        return self._watchdog

    def close(self) -> None:
        """Drop the watchdog's timer."""
        if self._watchdog is not None:
            self._watchdog.close()

    def arm_first_byte(self) -> float:
        """Arm until the first byte is due; returns that deadline (reused for the first chunk)."""
        self.first_byte = self.loop.time() + self.settings.first_byte_timeout
        self.arm(self.first_byte, "first_byte")
        return self.first_byte

    def arm(self, deadline: float, what: str) -> None:
        """Arm the watchdog for ``deadline`` or the total deadline, whichever comes first."""
        if deadline >= self.total:
            self.watchdog.arm(self.total, "total")
        else:
            self.watchdog.arm(deadline, what)

    def error(self) -> RequestTimeout:
        """The timeout error for the deadline that fired."""
        ep, settings = self.state.endpoint, self.settings
        what = self.watchdog.fired
        if what == "first_byte":
            msg = (f"no answer from endpoint '{ep}' within {settings.first_byte_timeout:g} s "
                   "(first_byte_timeout); it may be scaling up from zero: ask again in a minute")
        elif what == "gap":
            msg = (f"the stream from endpoint '{ep}' stalled for {settings.gap_timeout:g} s "
                   "(gap_timeout); the partial answer is kept")
        else:
            msg = (f"the answer from endpoint '{ep}' took longer than {settings.total_timeout:g} s "
                   "(total_timeout)")
        return RequestTimeout(msg)
