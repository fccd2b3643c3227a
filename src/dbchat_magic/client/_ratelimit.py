"""Client-side budgets per endpoint: requests and tokens per minute, sliding 60 s window."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from dbchat_magic.errors import RateLimited

WINDOW = 60.0


class Reservation:
    """One admitted request; `settle` replaces its token estimate by the real count."""

    __slots__ = ("at", "tokens")

    def __init__(self, at: float, tokens: int) -> None:
        self.at = at
        self.tokens = tokens

    def settle(self, tokens: int) -> None:
        """Record the tokens the request really used."""
        self.tokens = tokens


class RateLimiter:
    """``rpm``/``tpm`` budgets (None = no limit); ``mode`` "wait" sleeps, "fail" raises."""

    def __init__(self, rpm: int | None, tpm: int | None, mode: str = "wait", *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.rpm, self.tpm, self.mode = rpm, tpm, mode
        self._clock, self._sleep = clock, sleep
        self._log: dict[str, deque[Reservation]] = {}

    def wait_time(self, endpoint: str, tokens: int) -> float:
        """Seconds until a request of ``tokens`` fits both budgets (0 = now)."""
        now = self._clock()
        log = self._log.setdefault(endpoint, deque())
        while log and log[0].at <= now - WINDOW:
            log.popleft()
        wait = 0.0
        if self.rpm is not None and len(log) >= self.rpm:
            wait = log[len(log) - self.rpm].at + WINDOW - now
        if self.tpm is not None:
            used = sum(r.tokens for r in log)
            for r in log:  # the oldest entries leave the window first
                if used + tokens <= self.tpm:
                    break
                used -= r.tokens
                wait = max(wait, r.at + WINDOW - now)
        return max(0.0, wait)

    async def acquire(self, endpoint: str, tokens: int) -> Reservation:
        """Admit one request of about ``tokens`` tokens, waiting or failing per ``mode``."""
        if self.tpm is not None and tokens > self.tpm:
            raise RateLimited(f"this request needs about {tokens} tokens, more than the "
                              f"client-side budget of {self.tpm} tokens/minute (rate_limit_tpm)")
        while True:
            wait = self.wait_time(endpoint, tokens)
            if wait <= 0:
                break
            if self.mode == "fail":
                raise RateLimited(
                    f"client-side rate limit for endpoint '{endpoint}' reached "
                    f"({self._budget()}); next request possible in {wait:.0f} s "
                    "(rate_limit_mode='fail')", retry_after=wait)
            await self._sleep(wait)
        reservation = Reservation(self._clock(), tokens)
        self._log[endpoint].append(reservation)
        return reservation

    def _budget(self) -> str:
        parts = []
        if self.rpm is not None:
            parts.append(f"{self.rpm} requests/minute")
        if self.tpm is not None:
            parts.append(f"{self.tpm} tokens/minute")
        return ", ".join(parts)
