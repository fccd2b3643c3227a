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

WAIT = 60.0  # seconds: 10-30x anything the product takes on an idle machine


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT,
               interval: float = 0.01) -> Any:
    """Poll ``condition`` until it is truthy and return its value; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


async def until(condition: Callable[[], Any], what: str, timeout: float = WAIT,
                interval: float = 0.005) -> Any:
    """`wait_until` for a coroutine: polls without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


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
