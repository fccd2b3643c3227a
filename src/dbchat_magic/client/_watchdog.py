"""A cheap deadline for the network waits of one stream: arming costs a clock read, not a timer."""

from __future__ import annotations

import asyncio


class Watchdog:
    """Cancels ``task`` if a network wait outlives its deadline; `fired` names the deadline.

    `arm` before awaiting the network, `disarm` right after: time spent by the consumer between
    events never counts. One timer handle is reused and only rescheduled when it would be late;
    a hot loop may move ``deadline`` later by plain assignment (the timer catches up lazily).
    """

    __slots__ = ("_handle", "_loop", "_task", "_what", "_when", "deadline", "fired", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task | None) -> None:
        self._loop = loop
        self._task = task
        self.deadline: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._when = 0.0
        self._what = ""
        self.fired: str | None = None
        self.scheduled = False  # a timer is pending (plain ``deadline`` moves rely on it)

    def arm(self, deadline: float, what: str) -> None:
        """Watch until loop time ``deadline``; ``what`` names it if it fires."""
        self.deadline = deadline
        self._what = what
        if self._handle is None or self._when > deadline:
            if self._handle is not None:
                self._handle.cancel()
            self._when = deadline
            self._handle = self._loop.call_at(deadline, self._check)
            self.scheduled = True

    def disarm(self) -> None:
        """Stop watching (the wait is over)."""
        self.deadline = None

    def _check(self) -> None:
        self._handle = None
        self.scheduled = False
        deadline = self.deadline
        if deadline is None or self._task is None:
            return
        if self._loop.time() < deadline:
            self._when = deadline
            self._handle = self._loop.call_at(deadline, self._check)
            self.scheduled = True
            return
        self.fired = self._what
        self._task.cancel()

    def absorb(self) -> bool:
        """After a CancelledError: True if it was ours (and it is undone), False if the task was
        cancelled by someone else (re-raise then)."""
        if self.fired is None or self._task is None:
            return False
        uncancel = getattr(self._task, "uncancel", None)
        if uncancel is None:  # Python 3.10: cannot tell two cancels apart
            return True
        return uncancel() == 0

    def close(self) -> None:
        """Drop the timer."""
        self.deadline = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.scheduled = False
