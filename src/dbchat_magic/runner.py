"""The package's one asyncio loop, running in a daemon thread, and a blocking wait that ■ can stop.

All HTTP runs on this loop (docs/design.md: Stop): a notebook cell never nests an event loop. A
cell that must block submits a coroutine here and waits with `wait_interruptibly`; a kernel
interrupt (KeyboardInterrupt in the main thread) cancels the task, waits until it has settled (the
HTTP connection is closed by then) and re-raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from dbchat_magic.auth import CHAIN_ENV

if TYPE_CHECKING:
    from dbchat_magic.client import ChatClient
    from dbchat_magic.config import Settings

__all__ = ["Runner", "TaskFuture", "get_runner", "wait_interruptibly"]

_T = TypeVar("_T")
_log = logging.getLogger(__name__)

_CONNECTION_FIELDS = (
    "host", "url_style", "api", "connect_timeout", "first_byte_timeout", "gap_timeout",
    "total_timeout", "max_retries", "retry_backoff", "retry_max_wait", "rate_limit_rpm",
    "rate_limit_tpm", "rate_limit_mode", "auth",
)
_MAX_CLIENTS = 4


class TaskFuture(concurrent.futures.Future):
    """A `Future` for a task on the runner loop that also knows when the task has really ended.

    ``cancel()`` returns at once (the loop cancels the task soon after); `wait_settled` blocks until
    the task's own cleanup (e.g. closing the HTTP connection) has finished.
    """

    def __init__(self) -> None:
        super().__init__()
        self._settled = threading.Event()
        self._task: asyncio.Task[Any] | None = None

    def wait_settled(self, timeout: float | None = None) -> bool:
        """Block until the underlying task has finished; False on timeout."""
        return self._settled.wait(timeout)

    @property
    def settled(self) -> bool:
        """True once the underlying task has finished (or never started)."""
        return self._settled.is_set()


class Runner:
    """One asyncio event loop in a daemon thread, plus the `ChatClient`s that live on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._clients: OrderedDict[tuple[Any, ...], ChatClient] = OrderedDict()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="dbchat-runner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def thread(self) -> threading.Thread:
        """The daemon thread running the loop."""
        return self._thread

    def in_loop_thread(self) -> bool:
        """True when called from the runner's own thread."""
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, _T], *,
               on_skipped: Callable[[], None] | None = None) -> TaskFuture:
        """Schedule ``coro`` on the loop; returns at once with a `TaskFuture` for its result.

        If the future is cancelled before ``coro`` ever ran, ``coro`` is closed unrun (its
        ``finally`` blocks never execute) and ``on_skipped()`` is called on the loop thread instead.

        Race-free by construction: the task's first step, on the loop thread, checks the future
        right before entering ``coro``; a cancel is delivered to the task on the loop thread, and
        only once ``coro`` has been entered (before that, the first step sees the cancelled future).
        """
        fut = TaskFuture()
        entered = False

        async def guarded() -> _T:
            nonlocal entered
            if fut.cancelled():
                _skip(coro, on_skipped)
                raise asyncio.CancelledError
            entered = True
            return await coro

        def on_task_done(task: asyncio.Task[Any]) -> None:
            try:
                if task.cancelled():
                    fut.cancel()
                elif task.exception() is not None:
                    fut.set_exception(task.exception())
                else:
                    fut.set_result(task.result())
            except concurrent.futures.InvalidStateError:
                pass  # the caller cancelled first
            fut._settled.set()

        def start() -> None:
            task = self.loop.create_task(guarded())
            fut._task = task
            task.add_done_callback(on_task_done)

        def deliver_cancel() -> None:  # on the loop thread
            task = fut._task
            if entered and task is not None and not task.done():
                task.cancel()

        def on_future_done(f: concurrent.futures.Future[Any]) -> None:
            if f.cancelled():
                self.loop.call_soon_threadsafe(deliver_cancel)

        fut.add_done_callback(on_future_done)
        self.loop.call_soon_threadsafe(start)
        return fut

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        """Run ``coro`` on the loop and block for its result (not interruptible: short calls)."""
        if self.in_loop_thread():
            raise RuntimeError("Runner.run() called from the runner thread would deadlock")
        return self.submit(coro).result(timeout)

    def client(self, settings: Settings) -> ChatClient:
        """A `ChatClient` for these connection settings, created once and reused (keeps its pool).

        Endpoint, temperature and max tokens are passed per request, so they are not part of the
        key; host, timeouts, retries, rate limits and the credential environment are.
        """
        key = _client_key(settings)
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None:
                self._clients.move_to_end(key)
                return cached
        from dbchat_magic.client import ChatClient

        async def make() -> ChatClient:
            return ChatClient(settings)

        made = self.run(make()) if not self.in_loop_thread() else ChatClient(settings)
        evicted: list[ChatClient] = []
        with self._lock:
            existing = self._clients.get(key)
            if existing is not None:
                evicted.append(made)
                made = existing
            else:
                self._clients[key] = made
                while len(self._clients) > _MAX_CLIENTS:
                    evicted.append(self._clients.popitem(last=False)[1])
        for old in evicted:
            self.loop.call_soon_threadsafe(self.loop.create_task, old.aclose())
        return made

    def close_clients(self) -> None:
        """Close every cached client (their connections) and forget them."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for c in clients:
            try:
                if self.in_loop_thread():
                    self.loop.create_task(c.aclose())
                else:
                    self.run(c.aclose(), timeout=5)
            except Exception:  # closing is best effort
                pass


def _skip(coro: Coroutine[Any, Any, Any], on_skipped: Callable[[], None] | None) -> None:
    """Close a coroutine that must never run and tell ``on_skipped``."""
    coro.close()
    if on_skipped is not None:
        try:
            on_skipped()
        except Exception:
            _log.exception("on_skipped callback failed")


def _client_key(settings: Settings) -> tuple[Any, ...]:
    fields = tuple(repr(getattr(settings, name, None)) for name in _CONNECTION_FIELDS)
    digest = hashlib.sha256()
    auth = str(getattr(settings, "auth", "auto"))
    chosen = (auth.removeprefix("env:"),) if auth.startswith("env:") else ()
    for name in (*CHAIN_ENV, *chosen):  # the token variable `auth` names, too
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return (*fields, digest.hexdigest())


_runner: Runner | None = None
_runner_lock = threading.Lock()


def get_runner() -> Runner:
    """The process-wide `Runner` (started on first use)."""
    global _runner
    with _runner_lock:
        if _runner is None or not _runner.thread.is_alive():
            _runner = Runner()
        return _runner


def wait_interruptibly(future: concurrent.futures.Future[_T],
                       tick: Callable[[], None] | None = None, interval: float = 0.1,
                       settle_timeout: float = 5.0) -> _T:
    """Block until ``future`` is done, calling ``tick()`` every ``interval`` seconds.

    On KeyboardInterrupt (■ / SIGINT in the main thread) the future is cancelled, the call waits
    until the task has settled (connection closed, partial result final), and the interrupt is
    re-raised.
    """
    try:
        while True:
            try:
                return future.result(timeout=interval)
            except concurrent.futures.TimeoutError:
                if tick is not None:
                    tick()
    except KeyboardInterrupt:
        future.cancel()
        _wait_settled(future, settle_timeout)
        raise


def _wait_settled(future: concurrent.futures.Future[Any], timeout: float) -> None:
    """Wait for a cancelled future's task to finish, ignoring further interrupts meanwhile."""
    if isinstance(future, TaskFuture):
        waited = 0.0
        while waited < timeout:
            try:
                if future.wait_settled(min(0.05, timeout - waited)):
                    return
            except KeyboardInterrupt:
                pass
            waited += 0.05
        return
    with contextlib.suppress(KeyboardInterrupt):
        concurrent.futures.wait([future], timeout=timeout)
