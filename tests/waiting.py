"""Waiting in tests without racing the clock (no tests here): poll a condition until it holds,
returning at once when it does, and fail naming what was awaited only after a generous limit.

The limit is long on purpose: the CI machine is loaded, and a wait that ends as soon as the
condition holds costs nothing when the product works. What a test proves is the condition, never
how fast it came.
"""

from __future__ import annotations

import _thread
import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from dbchat_magic.simulator import Gate

WAIT = 60.0  # seconds: 10-30x anything the product takes on an idle machine


def _checked(condition: Callable[[], Any], deadline: float, what: str, timeout: float) -> Any:
    """``condition()``; once it is falsy after ``deadline``, fail naming ``what``."""
    value = condition()
    if not value and time.monotonic() > deadline:
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
    return value


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT,
               interval: float = 0.01) -> Any:
    """Poll ``condition`` until it is truthy and return its value; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (value := _checked(condition, deadline, what, timeout)):
        time.sleep(interval)
    return value


async def until(condition: Callable[[], Any], what: str, timeout: float = WAIT,
                interval: float = 0.005) -> Any:
    """`wait_until` for a coroutine: polls without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while not (value := _checked(condition, deadline, what, timeout)):
        await asyncio.sleep(interval)
    return value


def in_function(name: str, thread: threading.Thread | None = None) -> bool:
    """True while ``thread`` (default: the main thread) is inside a function called ``name``."""
    ident = (thread or threading.main_thread()).ident
    frame = sys._current_frames().get(ident) if ident is not None else None
    while frame is not None and frame.f_code.co_name != name:
        frame = frame.f_back
    return frame is not None


def interrupt_main_once(ready: Callable[[], Any], waiting_in: str) -> threading.Thread:
    """■ from another thread once ``ready()`` holds and the main thread is inside the function
    ``waiting_in``: never before what a test stops has started, however loaded the machine."""
    def go() -> None:
        wait_until(ready, "what the interrupt should stop to start")
        wait_until(lambda: in_function(waiting_in), f"the main thread to be in {waiting_in}()")
        _thread.interrupt_main()

    thread = threading.Thread(target=go, name="test-interrupter", daemon=True)
    thread.start()
    return thread


class Steps(Gate):
    """A `Gate` that holds a stream at each of several token counts in turn (``gates[i]`` holds
    it at ``stops[i]``; `release` lets it on to the next stop, `open` all the way). The simulator
    reads ``after_tokens`` before every token, so the next stop takes over once one is passed.
    For one stream at a time."""

    def __init__(self, *stops: int, limit: float = 300.0) -> None:
        self.gates = [Gate(n, limit) for n in stops]
        self._at = 0
        super().__init__(stops[0], limit)

    @property
    def after_tokens(self) -> int:
        return self.gates[self._at].after_tokens if self._at < len(self.gates) else -1

    @after_tokens.setter
    def after_tokens(self, value: int) -> None:  # Gate.__init__ sets it: the stops rule
        pass

    async def wait(self) -> None:
        self.reached.set()
        await self.gates[self._at].wait()
        self._at += 1

    def release(self, index: int) -> None:
        """Let the stream on from stop ``index``."""
        self.gates[index].open()

    def open(self) -> None:
        for gate in self.gates:
            gate.open()
