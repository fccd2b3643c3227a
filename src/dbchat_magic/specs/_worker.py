"""Chart rendering in a separate, warm, reusable worker process (`_render_worker`), so that a
renderer crash never takes the kernel and the user's variables down.

One worker per kernel (`shared_worker`), started in the background ahead of the first chart and
restarted on demand after it dies. Each request has a time limit (on expiry the worker is killed)
and a memory limit: the worker's resident set (``VmRSS`` in ``/proc``) is watched while it renders
and it is killed above the bound (an address-space rlimit would break V8, which reserves a large
address space; where ``/proc`` is missing only the time limit applies). Requests are serialised by
a lock, so any thread may render. Only compiled Vega-Lite dicts cross the pipe.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from typing import Any

from dbchat_magic.specs._render_worker import read_frame, write_frame

TIME_LIMIT_S = 30.0
MEMORY_LIMIT_MB = 2048
START_TIMEOUT_S = 120.0
CRASHED = "the chart could not be drawn (renderer crashed); the answer is kept"
_POLL_S = 0.02
_SYS_PATH_ENV = "DBCHAT_RENDER_SYS_PATH"
_BOOT = ("import sys\nif sys.path and sys.path[0] == '':\n    del sys.path[0]\n"
         "import json, os, runpy\n"
         f"sys.path[:] = json.loads(os.environ.pop({_SYS_PATH_ENV!r}, 'null')) or sys.path\n"
         "runpy.run_module('dbchat_magic.specs._render_worker', run_name='__main__')\n")
"""Start-up code: the kernel's import path, never the working directory (no module there can
shadow one the worker imports)."""
log = logging.getLogger(__name__)


class RenderFailed(Exception):
    """The worker crashed, ran out of time or of memory; the message says so for the user."""


class RenderError(Exception):
    """vl-convert could not render the spec (its message)."""


class RendererUnavailable(Exception):
    """The worker could not be started (the reason)."""


class _Stop(Exception):
    """Why waiting for the worker ended without a reply (a user message)."""


def rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB (None where ``/proc`` cannot tell)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class _Process:
    """One running worker: its Popen, a thread turning its frames into a queue, its stderr tail."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        for target, name in ((self._read, "reader"), (self._drain, "stderr")):
            threading.Thread(target=target, daemon=True, name=f"dbchat-render-{name}").start()

    def _read(self) -> None:
        try:
            while (frame := read_frame(self.proc.stdout)) is not None:  # type: ignore[arg-type]
                self.replies.put(frame if isinstance(frame, dict) else {})
        except (OSError, ValueError):
            pass
        finally:
            self.replies.put(None)

    def _drain(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in self.proc.stderr:  # type: ignore[union-attr]
                self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def send(self, obj: dict[str, Any]) -> None:
        write_frame(self.proc.stdin, obj)  # type: ignore[arg-type]

    def stop(self, *, kill: bool) -> None:
        """End the process: close its stdin (it exits) or kill it; reap it either way."""
        with contextlib.suppress(OSError, ValueError):
            if kill:
                self.proc.kill()
            self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        if kill and self.stderr_tail:
            log.debug("chart renderer stopped; its last output:\n%s", "\n".join(self.stderr_tail))


class RenderWorker:
    """The kernel's handle on a render worker process (thread-safe; restarts it on demand)."""

    def __init__(self, *, time_limit: float = TIME_LIMIT_S,
                 memory_limit_mb: float = MEMORY_LIMIT_MB,
                 start_timeout: float = START_TIMEOUT_S,
                 env: dict[str, str] | None = None) -> None:
        self.time_limit = time_limit
        self.memory_limit_mb = memory_limit_mb
        self.start_timeout = start_timeout
        self.extra_env = dict(env or {})
        self.versions: tuple[str, ...] = ()
        self.starts = 0
        """Worker processes started so far (a restart after a crash adds one)."""
        self._lock = threading.Lock()
        self._process: _Process | None = None
        self._unavailable: str | None = None
        self._failed_starts = 0
        self._ids = itertools.count(1)
        self._js: str | None = None

    @property
    def pid(self) -> int | None:
        """The running worker's process id (None when none runs)."""
        p = self._process
        return p.proc.pid if p is not None and p.proc.poll() is None else None

    def start(self) -> None:
        """Start the worker and wait until it is warm (returns at once when it runs).

        Raises `RendererUnavailable` when it cannot start.
        """
        with self._lock:
            self._ensure()

    def close(self) -> None:
        """Stop the worker (it is started again by the next request)."""
        with self._lock:
            self._discard(kill=False)

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **self.extra_env}
        env[_SYS_PATH_ENV] = json.dumps([p for p in sys.path if isinstance(p, str) and p])
        return env

    def _discard(self, *, kill: bool) -> None:
        p, self._process = self._process, None
        if p is not None:
            p.stop(kill=kill)

    def _ensure(self) -> _Process:
        p = self._process
        if p is not None and p.proc.poll() is None:
            return p
        self._discard(kill=True)
        if self._unavailable:
            raise RendererUnavailable(self._unavailable)
        try:
            p = _Process(self._env())
        except OSError as exc:
            raise RendererUnavailable(f"the renderer process could not start: {exc}") from None
        self.starts += 1
        try:
            hello = self._wait(p, self.start_timeout, None)
        except _Stop as stop:
            p.stop(kill=True)
            self._failed_starts += 1
            reason = f"the renderer process failed at start: {stop}"
            if self._failed_starts >= 2:
                self._unavailable = reason
            raise RendererUnavailable(reason) from None
        except BaseException:  # interrupted while it starts: leave no process behind
            p.stop(kill=True)
            raise
        if not hello.get("ready"):
            p.stop(kill=True)
            self._unavailable = str(hello.get("fatal") or "the renderer did not start")
            raise RendererUnavailable(self._unavailable)
        self._failed_starts = 0
        self.versions = tuple(str(v) for v in hello.get("versions") or ())
        self._process = p
        return p

    def _wait(self, p: _Process, limit: float, req_id: int | None) -> dict[str, Any]:
        """The worker's reply to ``req_id`` (its first frame when None), watching time and RSS."""
        deadline = time.monotonic() + limit
        while True:
            try:
                reply = p.replies.get(timeout=_POLL_S)
            except queue.Empty:
                reply = {}
            if reply is None:
                raise _Stop(CRASHED)
            if reply and (req_id is None or reply.get("id") == req_id):
                return reply
            if time.monotonic() > deadline:
                raise _Stop(f"the chart could not be drawn (renderer took longer than "
                            f"{limit:g} s); the answer is kept")
            rss = rss_mb(p.proc.pid)
            if rss is not None and rss > self.memory_limit_mb:
                raise _Stop(f"the chart could not be drawn (renderer used over "
                            f"{self.memory_limit_mb:,.0f} MB of memory); the answer is kept")

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return the worker's reply (``want``: a Vega-Lite version).

        Raises `RenderFailed` (crash, time or memory limit: the worker is gone and restarts on the
        next request), `RenderError` (vl-convert rejected the spec) or `RendererUnavailable`.
        """
        with self._lock:
            p = self._ensure()
            if "want" in fields:
                fields["vl_version"] = self.version(fields.pop("want"))
            req_id = next(self._ids)
            try:
                p.send({"id": req_id, "op": op, **fields})
                reply = self._wait(p, self.time_limit, req_id)
            except _Stop as stop:
                self._discard(kill=True)
                raise RenderFailed(str(stop)) from None
            except (OSError, ValueError):  # the pipe broke: the worker died
                self._discard(kill=True)
                raise RenderFailed(CRASHED) from None
            except BaseException:  # interrupted mid-render (■): start afresh next time
                self._discard(kill=True)
                raise
            rss = rss_mb(p.proc.pid)
            if rss is not None and rss > self.memory_limit_mb * 0.75:
                self._discard(kill=False)  # V8 keeps what it grew: recycle before the next chart
        if not reply.get("ok"):
            raise RenderError(str(reply.get("error") or "the renderer failed"))
        return reply

    def version(self, want: str | None) -> str | None:
        """``want`` when the worker's vl-convert has that Vega-Lite version, else None (latest)."""
        return want if want in self.versions else None

    def svg(self, vl: dict[str, Any], want: str | None = None) -> str:
        """The chart as SVG text."""
        return str(self.request("svg", spec=vl, want=want)["svg"])

    def png(self, vl: dict[str, Any], want: str | None = None, scale: float = 2) -> str:
        """The chart as base64 PNG."""
        return str(self.request("png", spec=vl, want=want, scale=scale)["png"])

    def javascript_bundle(self) -> str:
        """The Vega/Vega-Lite/Vega-Embed bundle for inline HTML (fetched once per kernel)."""
        if self._js is None:
            self._js = str(self.request("js")["js"])
        return self._js


_shared: RenderWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> RenderWorker:
    """The kernel's one render worker (created on first use; it exits when the kernel does, as
    its stdin closes)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = RenderWorker()
        return _shared


def _forget_in_child() -> None:
    """A forked child gets its own worker; the parent's pipes are left alone."""
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def start_in_background() -> None:
    """Start (and warm) the shared worker in a daemon thread; failures wait for the first chart."""
    def run() -> None:
        with contextlib.suppress(Exception):
            shared_worker().start()

    threading.Thread(target=run, daemon=True, name="dbchat-render-start").start()
