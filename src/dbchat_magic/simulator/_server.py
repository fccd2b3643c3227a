"""`Simulator`: the Databricks-protocol server on 127.0.0.1, on its own loop in a daemon thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from dbchat_magic.simulator._app import App
from dbchat_magic.simulator._endpoints import Endpoint, coerce_endpoints
from dbchat_magic.simulator._faults import Fault, FaultBook
from dbchat_magic.simulator._responders import Reply, Responder, ScriptedResponder, default_reply
from dbchat_magic.simulator._state import ServerState
from dbchat_magic.simulator._stats import Stats
from dbchat_magic.simulator._stream import Chunking, Gate, Pacing

_UNSET: Any = object()


class Simulator:
    """A real HTTP/1.1 server speaking the Databricks serving protocol, with fault injection.

    Use as a context manager (or `start()`/`stop()`); ``port=0`` picks a free port. Chat routes:
    ``POST /serving-endpoints/{name}/invocations`` and ``POST /serving-endpoints/chat/completions``
    (``model`` in the body); ``GET /api/2.0/serving-endpoints`` lists endpoints. ``token=None``
    turns the bearer check off.
    """

    def __init__(
        self,
        *,
        token: str | None = "sim-token",
        endpoints: Iterable[Endpoint | str] | None = None,
        tokens_per_second: float | None = None,
        first_token_delay: float = 0.0,
        chunking: Chunking = "event",
        responder: Responder | None = None,
        reply_tokens: int = 60,
        port: int = 0,
        seed: int = 0,
        idle_timeout: float | None = None,
    ) -> None:
        self._scripts = ScriptedResponder(fallback=responder or default_reply)
        self._state = ServerState(
            token=token, endpoints=coerce_endpoints(endpoints),
            pacing=Pacing(tokens_per_second, first_token_delay, chunking, seed),
            responder=self._scripts, reply_tokens=reply_tokens, idle_timeout=idle_timeout,
            oauth_client=("sim-client", "sim-secret"), stats=Stats(), faults=FaultBook())
        self._requested_port = port
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._app = App(self._state)

    # -- state (read by the request handler) -----------------------------------------------------

    @property
    def token(self) -> str | None:
        """The bearer token requests must carry (None: no check)."""
        return self._state.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._state.token = value

    @property
    def endpoints(self) -> dict[str, Endpoint]:
        """The served endpoints by name."""
        return self._state.endpoints

    @endpoints.setter
    def endpoints(self, value: dict[str, Endpoint]) -> None:
        self._state.endpoints = value

    @property
    def pacing(self) -> Pacing:
        """Token rate, first-token delay, chunking and seed of later answers (`set_pacing`)."""
        return self._state.pacing

    @pacing.setter
    def pacing(self, value: Pacing) -> None:
        self._state.pacing = value

    @property
    def reply_tokens(self) -> int:
        """How many tokens the default responder answers with."""
        return self._state.reply_tokens

    @reply_tokens.setter
    def reply_tokens(self, value: int) -> None:
        self._state.reply_tokens = value

    @property
    def idle_timeout(self) -> float | None:
        """Seconds a keep-alive connection may wait for its next request (None: forever)."""
        return self._state.idle_timeout

    @idle_timeout.setter
    def idle_timeout(self, value: float | None) -> None:
        self._state.idle_timeout = value

    @property
    def oauth_client(self) -> tuple[str, str]:
        """The OAuth client id and secret ``POST /oidc/v1/token`` accepts."""
        return self._state.oauth_client

    @oauth_client.setter
    def oauth_client(self, value: tuple[str, str]) -> None:
        self._state.oauth_client = value

    @property
    def stats(self) -> Stats:
        """What the simulator saw: requests, connections, bodies, headers, the log."""
        return self._state.stats

    @property
    def faults(self) -> FaultBook:
        """The pending faults (`inject` adds to them)."""
        return self._state.faults

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Start serving (returns self); raises OSError when the port is taken."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._on_connection, "127.0.0.1", self._requested_port, limit=1 << 20
                    )
                )
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="dbchat-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection, then end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=2)
            loop.stop()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(timeout=5)
        self._loop = self._thread = self._server = None
        self._port = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._app.handle_connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- addresses -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port being served (after `start()`)."""
        if self._port is None:
            raise RuntimeError(
                "the simulator is not running; call start() or use it in a with block"
            )
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the ``DATABRICKS_HOST``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for OpenAI-compatible clients: ``{url}/serving-endpoints``."""
        return f"{self.url}/serving-endpoints"

    def env(self) -> dict[str, str]:
        """``DATABRICKS_HOST`` and ``DATABRICKS_TOKEN`` pointing at this simulator."""
        return {"DATABRICKS_HOST": self.url, "DATABRICKS_TOKEN": self.token or ""}

    # -- behaviour -------------------------------------------------------------------------------

    @property
    def responder(self) -> Responder:
        """The responder answering chat requests (scripts first, then the fallback)."""
        return self._scripts

    @responder.setter
    def responder(self, responder: Responder | None) -> None:
        self._scripts.fallback = responder or default_reply

    def script(self, match: str, reply: str | Reply) -> None:
        """Answer ``reply`` whenever the last user message contains ``match``."""
        self._scripts.add(match, reply)

    def set_pacing(
        self,
        tokens_per_second: float | None = _UNSET,
        first_token_delay: float = _UNSET,
        chunking: Chunking = _UNSET,
        seed: int = _UNSET,
        gate: Gate | None = _UNSET,
    ) -> None:
        """Change pacing/chunking for later requests (``tokens_per_second=None`` = unpaced;
        ``gate``: a `Gate` every later stream waits at, None to drop it)."""
        p = self.pacing
        self.pacing = Pacing(
            p.tokens_per_second if tokens_per_second is _UNSET else tokens_per_second,
            p.first_token_delay if first_token_delay is _UNSET else first_token_delay,
            p.chunking if chunking is _UNSET else chunking,
            p.seed if seed is _UNSET else seed,
            p.gate if gate is _UNSET else gate,
        )

    def inject(
        self, fault: str, *, times: int | None = 1, endpoint: str | None = None, **params: Any
    ) -> Fault:
        """Make the next ``times`` chat requests (to ``endpoint``, or any) fail with ``fault``.

        Response faults ("429", "500", "503", "401", "403", "404", "400", "html502", "drop":
        the connection closed before any answer byte, "huge_error": an error body of ``size``
        bytes) replace the answer; stream faults ("disconnect", "malformed_chunk",
        "error_midstream", "no_done", "slow_first_token", "keepalive", "crlf", "reasoning",
        "special_tokens", "u2028", and the hostile ones: "huge_line" (``after``, ``size``,
        ``line_bytes``, ``end``), "json_body" (``content_type``, ``size``), "broken_framing"
        (``after``, ``kind`` "bad_chunk" | "short_chunk"), "header_echo" (``header``, ``bare``))
        change it and combine. Any fault also takes ``tokens_per_second``,
        ``first_token_delay`` and ``chunking``.
        """
        item = Fault(fault, times, endpoint, dict(params))
        self.faults.add(item)
        return item

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.faults.clear()

    def reset_stats(self) -> None:
        """Zero the counters and forget bodies, headers, disconnects and the log."""
        self.stats.reset()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "stopped"
        return f"Simulator({where}, endpoints={len(self.endpoints)})"
