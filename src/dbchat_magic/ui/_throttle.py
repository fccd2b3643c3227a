"""A thread-safe, coalescing render throttle: many `request()`s, at most one render per interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_INTERVAL = 0.15
"""Seconds between renders: ≤ 6.7 renders/s, so that with the few messages of the final render a
stream stays within 10 widget updates in any one second."""


class Coalescer:
    """Calls ``render()`` at most once per ``interval`` seconds, always covering the latest request.

    The first request after a quiet period renders at once (leading edge); requests inside the
    interval merge into one trailing render on a timer thread. Renders never overlap. Safe from any
    thread. Pass ``lock`` to share one lock with the renderer, so the two can never deadlock.
    """

    def __init__(self, render: Callable[[], None], interval: float = DEFAULT_INTERVAL,
                 lock: threading.RLock | None = None) -> None:
        self._render = render
        self.interval = interval
        self._lock = lock or threading.RLock()
        self._last = float("-inf")
        self._dirty = False
        self._timer: threading.Timer | None = None
        self._due = 0.0
        self._closed = False
        self.renders = 0
        self.last_error: BaseException | None = None

    def request(self) -> None:
        """Ask for a render: now if the interval has passed, else once when it ends."""
        with self._lock:
            if self._closed:
                return
            self._dirty = True
            now = time.monotonic()
            wait = self._last + self.interval - now
            if self._timer is not None:
                if self._due <= now + max(wait, 0.0) + 0.001:
                    return  # a pending render comes soon enough and will include this request
                self._timer.cancel()  # a slow clock tick must not hold back this render
                self._timer = None
            if wait <= 0:
                self._run_locked()
            else:
                self._start_timer(wait)

    def request_later(self, delay: float) -> None:
        """Schedule a render in ``delay`` seconds unless one is pending (e.g. a clock tick)."""
        with self._lock:
            if self._closed or self._timer is not None:
                return
            self._dirty = True
            self._start_timer(max(delay, self._last + self.interval - time.monotonic()))

    def close(self) -> None:
        """Cancel any pending render and ignore later requests (waits for a running render)."""
        with self._lock:
            self._closed = True
            self._dirty = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._closed

    def _start_timer(self, wait: float) -> None:
        self._due = time.monotonic() + wait
        self._timer = threading.Timer(wait, self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed or not self._dirty:
                return
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:  # timers may fire a little early; never render closer than the interval
                self._start_timer(wait)
            else:
                self._run_locked()

    def _run_locked(self) -> None:
        self._dirty = False
        self._last = time.monotonic()
        self.renders += 1
        try:
            self._render()
        except Exception as exc:  # a failed render must never break the caller
            self.last_error = exc
