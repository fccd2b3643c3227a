"""Backoff with jitter, honouring Retry-After, bounded; used only before an answer's first byte."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After value (seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - now()
    return max(0.0, seconds) if seconds == seconds else None  # NaN → None


class Backoff:
    """``delay(attempt)``: base·2^attempt with "equal jitter" (half fixed, half random), capped;
    a Retry-After wins when present; None when the server asks for longer than ``cap``."""

    def __init__(self, base: float, cap: float, rng: Callable[[], float] = random.random) -> None:
        self.base = base
        self.cap = cap
        self._rng = rng

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to sleep before retry number ``attempt + 1`` (attempt counts from 0)."""
        if retry_after is not None:
            return retry_after if retry_after <= self.cap else None
        ceiling = min(self.cap, self.base * (2 ** attempt))
        return ceiling / 2 + self._rng() * ceiling / 2
