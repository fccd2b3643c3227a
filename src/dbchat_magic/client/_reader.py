"""The deadline loop's reads: a response body's pieces, each within its deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx

from dbchat_magic.client._deadlines import Deadlines

SNIFF_LIMIT = 64 * 1024
"""Blank bytes read before deciding that a body without a stream type is not one JSON object."""


class BodyReader:
    """Reads one body's pieces: the first within ``first_byte_timeout``, each next one within
    ``gap_timeout`` of asking for it, all within ``total_timeout``. Time the consumer spends
    between reads never counts. A deadline that passes raises its `RequestTimeout`; a dropped
    connection ends the body (`next` returns None, `dropped` keeps the error)."""

    __slots__ = ("_chunks", "_deadlines", "_gap", "_held", "_now", "_reads", "_total",
                 "_watchdog", "dropped", "empty")

    def __init__(self, chunks: AsyncIterator[bytes], deadlines: Deadlines) -> None:
        self._chunks = chunks
        self._deadlines = deadlines
        self._watchdog = deadlines.watchdog
        self._gap = deadlines.settings.gap_timeout
        self._total = deadlines.total
        loop = deadlines.loop
        # The default loop's clock is time.monotonic: call it directly on the hot path.
        self._now: Callable[[], float] = (
            time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time)
        self._reads = 0
        self._held: list[bytes] = []  # pieces `sniff_json` read ahead
        self.dropped: httpx.HTTPError | None = None
        self.empty = False  # the body ended before its first byte

    async def next(self) -> bytes | None:
        """The next piece of the body; None at its end or after the connection dropped."""
        watchdog = self._watchdog
        self._reads += 1
        deadline = self._now() + self._gap
        if self._reads > 2 and watchdog.scheduled and deadline < self._total:
            watchdog.deadline = deadline  # the usual read: a plain move, no timer rescheduled
        else:
            self._arm(deadline)
        try:
            if self._held or self.dropped is not None:
                return self._held.pop(0) if self._held else None
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            self.empty = self._reads == 1
            return None
        except asyncio.CancelledError:
            if watchdog.absorb():
                raise self._deadlines.error() from None
            raise
        except httpx.HTTPError as exc:
            self.dropped = exc
            return None
        finally:
            watchdog.deadline = None  # consumer time between pieces never counts

    def _arm(self, gap_deadline: float) -> None:
        """Arm the watchdog for this read: the first-byte deadline for the first one, else the
        gap (a full arm: the watchdog's timer is rescheduled when it would be late)."""
        deadlines = self._deadlines
        if self._reads == 1:
            deadlines.arm(deadlines.first_byte, "first_byte")
        else:
            deadlines.arm(gap_deadline, "gap")

    async def sniff_json(self) -> bool:
        """Whether the body's first non-blank byte is ``{`` (blank pieces are read, up to
        `SNIFF_LIMIT`, within the first-byte deadline); what was read stays for `next`."""
        deadlines = self._deadlines
        deadlines.arm(deadlines.first_byte, "first_byte")
        size = 0
        try:
            while size < SNIFF_LIMIT:
                piece = await self._chunks.__anext__()
                self._held.append(piece)
                size += len(piece)
                if piece.strip():
                    break
        except StopAsyncIteration:
            pass
        except asyncio.CancelledError:
            if self._watchdog.absorb():
                raise deadlines.error() from None
            raise
        except httpx.HTTPError as exc:
            self.dropped = exc  # reported where the body is read, after what came before it
        finally:
            self._watchdog.disarm()
        return b"".join(self._held).lstrip()[:1] == b"{"
