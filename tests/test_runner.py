"""The runner: one loop thread, submit, interruptible blocking wait (plain coroutines)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any

import pytest

from dbchat_magic.runner import Runner, TaskFuture, get_runner, wait_interruptibly
from waiting import WAIT, interrupt_main_once


def test_get_runner_is_one_daemon_loop_thread():
    r = get_runner()
    assert r is get_runner()
    assert r.thread.daemon and r.thread.is_alive()
    assert r.thread.name == "dbchat-runner"

    async def where() -> str:
        return threading.current_thread().name

    assert r.submit(where()).result(WAIT) == "dbchat-runner"


def test_submit_returns_at_once_and_delivers_result_and_errors():
    r = get_runner()

    release = threading.Event()

    async def slow() -> int:
        while not release.is_set():  # finishes only once the caller lets it
            await asyncio.sleep(0.01)
        return 42

    fut = r.submit(slow())  # returns while the coroutine cannot have finished
    assert isinstance(fut, TaskFuture)
    assert not fut.done()
    release.set()
    assert fut.result(WAIT) == 42
    assert fut.wait_settled(WAIT)

    async def boom() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        r.submit(boom()).result(WAIT)


def test_wait_interruptibly_ticks_while_waiting():
    r = get_runner()
    ticks: list[float] = []
    ticked_thrice = threading.Event()

    def tick() -> None:
        ticks.append(1.0)
        if len(ticks) == 3:
            ticked_thrice.set()

    async def slow() -> str:  # ends only once the wait has ticked 3 times
        while not ticked_thrice.is_set():
            await asyncio.sleep(0.01)
        return "done"

    assert wait_interruptibly(r.submit(slow()), tick, interval=0.05) == "done"
    assert len(ticks) >= 3


def test_keyboard_interrupt_cancels_task_and_waits_for_its_cleanup():
    r = get_runner()
    events: list[str] = []
    started = threading.Event()

    async def streaming() -> None:
        started.set()
        try:
            await asyncio.sleep(10 * WAIT)
        except asyncio.CancelledError:
            events.append("cancelled")
            await asyncio.sleep(0.05)  # cleanup that takes a while (closing a connection)
            events.append("cleaned up")
            raise

    fut = r.submit(streaming())
    interrupt_main_once(started.is_set, "wait_interruptibly")  # not before the wait began
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        wait_interruptibly(fut, interval=0.02)
    elapsed = time.perf_counter() - t0
    assert events == ["cancelled", "cleaned up"]  # cleanup finished before the wait returned
    assert fut.cancelled() and fut.settled
    assert elapsed < WAIT  # the interrupt ended the wait, not the task's 600 s


def test_interrupt_raised_by_tick_also_cancels():
    r = get_runner()

    async def forever() -> None:
        await asyncio.sleep(30)

    fut = r.submit(forever())

    def tick() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wait_interruptibly(fut, tick, interval=0.01)
    assert fut.cancelled()
    assert fut.wait_settled(WAIT)
    assert fut._task is not None and fut._task.cancelled()


def test_cancel_before_start_never_runs_the_coroutine():
    r = Runner()
    ran: list[int] = []
    gate = threading.Event()

    async def block_loop() -> None:
        gate.wait(WAIT)  # keeps the loop busy so the next submit cannot start yet

    async def should_not_run() -> None:
        ran.append(1)

    r.submit(block_loop())
    fut = r.submit(should_not_run())
    assert fut.cancel()
    gate.set()
    assert fut.wait_settled(WAIT)
    assert ran == []


def _cancel_from_another_thread(fut: concurrent.futures.Future) -> None:
    t = threading.Thread(target=fut.cancel)
    t.start()
    t.join()


def test_cancel_landing_while_the_task_is_made_never_runs_the_coroutine():
    """The old race, forced: the cancel arrives (from another thread, done callbacks and all)
    while the loop thread is creating the task, after any check `start` may have made."""
    r = Runner()
    ran: list[int] = []
    skipped: list[str] = []
    submitted = threading.Event()
    holder: dict[str, concurrent.futures.Future] = {}

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task:
        task = asyncio.Task(coro, loop=loop, **kw)
        assert submitted.wait(30)  # the future exists: cancel it now, in mid-creation
        _cancel_from_another_thread(holder["fut"])
        return task

    r.loop.call_soon_threadsafe(r.loop.set_task_factory, factory)

    async def should_not_run() -> None:
        ran.append(1)

    fut = r.submit(should_not_run(), on_skipped=lambda: skipped.append(
        threading.current_thread().name))
    holder["fut"] = fut
    submitted.set()
    assert fut.wait_settled(30)
    assert fut.cancelled()
    assert ran == []
    assert skipped == ["dbchat-runner"]  # told once, on the loop thread


def test_cancel_queued_behind_the_first_step_never_runs_the_coroutine():
    """A cancel made after the task exists but before its first step (the loop busy meanwhile):
    the first step sees the cancelled future and never enters the coroutine."""
    r = Runner()
    ran: list[int] = []
    made = threading.Event()
    release = threading.Event()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> asyncio.Task:
        loop.call_soon(release.wait, 30)  # queued before the task's first step: holds the loop
        task = asyncio.Task(coro, loop=loop, **kw)
        made.set()
        return task

    r.loop.call_soon_threadsafe(r.loop.set_task_factory, factory)

    async def should_not_run() -> None:
        ran.append(1)

    fut = r.submit(should_not_run())
    assert made.wait(30)
    assert fut.cancel()
    release.set()
    assert fut.wait_settled(30)
    assert ran == [] and fut.cancelled()


def test_cancel_after_start_still_cancels_the_running_coroutine():
    r = Runner()
    entered = threading.Event()
    events: list[str] = []

    async def running() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    fut = r.submit(running())
    assert entered.wait(30)
    assert fut.cancel()
    assert fut.wait_settled(30)
    assert events == ["cancelled"]
    assert fut._task is not None and fut._task.cancelled()


def test_run_from_loop_thread_refuses_instead_of_deadlocking():
    r = get_runner()

    async def inner() -> str:
        async def noop() -> None:
            return None

        coro = noop()
        try:
            r.run(coro)
        except RuntimeError as err:
            return str(err)
        finally:
            coro.close()
        return "no error"

    assert "deadlock" in r.submit(inner()).result(WAIT)


def test_plain_concurrent_future_also_supported():
    fut: concurrent.futures.Future[int] = concurrent.futures.Future()
    threading.Timer(0.1, lambda: fut.set_result(7)).start()
    assert wait_interruptibly(fut, interval=0.02) == 7
