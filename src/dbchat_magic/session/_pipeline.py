"""One question's pipeline: compose → stream on the runner loop → specs (validate, one repair turn,
render) → record the turn. Used by the `%%dbchat` magic (blocking or background) and the ChatPanel.

Settings are read fresh on every `Session.prepare`, so `%dbchat use NAME` or a panel change applies
to the next question without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dbchat_magic.conversation import Conversation, get_conversation
from dbchat_magic.errors import ConfigError
from dbchat_magic.result import ChatResult
from dbchat_magic.runner import get_runner, wait_interruptibly
from dbchat_magic.session import _turn_log
from dbchat_magic.session._ask import AskHandle, AskOptions, PreparedAsk
from dbchat_magic.session._specs import LiveSpecs, apply_specs
from dbchat_magic.session._warm_up import renderer_name, warm_up_renderer

if TYPE_CHECKING:
    from dbchat_magic.client import ChatClient
    from dbchat_magic.config import Settings
    from dbchat_magic.tracing import AnswerTrace, TraceGroup


class Session:
    """Asks questions in one `Conversation`; settings are read fresh on every question."""

    def __init__(self, conversation: Conversation,
                 settings: Callable[[], Settings] | None = None) -> None:
        self.conversation = conversation
        self._settings = settings
        self.notes: list[str] = []  # to show once (e.g. the log could not be read)

    def settings(self) -> Settings:
        """The current settings (the provider given, else the persisted settings file)."""
        if self._settings is not None:
            return self._settings()
        from dbchat_magic.config import Settings

        return Settings.load()

    def restore(self) -> list[str]:
        """Continue this conversation from the history log (after a kernel restart: ``-c NAME``
        or a panel on NAME) when it is empty here; returns notes (to show once). Never raises.
        The default conversation is never restored: it gathers every unnamed cell."""
        from dbchat_magic.conversation import DEFAULT_NAME
        from dbchat_magic.errors import DbChatError

        if self.conversation.name == DEFAULT_NAME:
            return []
        try:
            notes = _turn_log.restore(self.conversation, self.settings())
        except DbChatError as err:
            notes = [f"conversation {self.conversation.name!r} was not restored ({err})"]
        return notes

    def mark_reset(self) -> list[str]:
        """Mark in the history log that this conversation starts afresh (``--new``,
        ``%dbchat reset``), so a later restore continues from here; returns notes. Never raises."""
        from dbchat_magic.errors import DbChatError

        try:
            return _turn_log.log_reset(self.settings(), self.conversation.name)
        except DbChatError as err:
            return [f"the reset of {self.conversation.name!r} was not logged ({err})"]

    def prepare(self, question: str, options: AskOptions | None = None,
                namespace: Mapping[str, Any] | None = None) -> PreparedAsk:
        """Compose the messages for ``question`` (raises `ConfigError`/`FrameNotFound` early)."""
        from dbchat_magic import prompts, specs

        options = options or AskOptions()
        settings = self.settings()
        endpoint = options.endpoint or settings.endpoint
        if not endpoint:
            raise ConfigError("no endpoint chosen: run `%dbchat use NAME` or pass -e NAME "
                              "(`%dbchat endpoints` lists yours)")
        history = [] if options.no_history else self.conversation.history_messages()
        params: dict[str, Any] = {
            "temperature": settings.temperature if options.temperature is None
            else options.temperature,
            "max_tokens": settings.max_tokens if options.max_tokens is None else options.max_tokens,
        }
        composed = prompts.compose(
            question, namespace=namespace or {}, frames=options.frames, history=history,
            persona=options.persona or settings.persona, format_rules=specs.format_rules(),
            settings=settings, max_tokens=params["max_tokens"])
        return PreparedAsk(prompt=composed, endpoint=endpoint, params=params, settings=settings,
                           options=options)

    def start(self, prepared: PreparedAsk, namespace: Mapping[str, Any] | None = None, *,
              on_update: Callable[[ChatResult], None] | None = None,
              on_done: Callable[[ChatResult], None] | None = None,
              trace_parent: TraceGroup | None = None) -> AskHandle:
        """Start the pipeline on the runner loop and return at once.

        ``on_update(result)`` runs on the loop thread after each streamed event; ``on_done(result)``
        once at the very end (also when stopped or failed), after the cost is known and the turn
        logged and traced. Raises `DbChatError` at once when no client can be made (e.g. missing
        credentials). ``trace_parent``: the MLflow span grouping a compare run.
        """
        runner = get_runner()
        client = runner.client(prepared.settings)
        from dbchat_magic.client import end_result  # loaded with the client just made

        if any(p.name == "data context" and p.chars for p in prepared.parts):
            warm_up_renderer(renderer_name(prepared.settings))  # frames asked about: charts likely
        result = ChatResult(endpoint=prepared.endpoint)
        if prepared.notes:
            result.extras["prompt_notes"] = list(prepared.notes)
        from dbchat_magic.tracing import start_trace

        trace = start_trace(prepared.settings.tracing, prepared.messages, prepared.endpoint,
                            prepared.request_params(), trace_parent)
        done = _Settler(self, prepared, result, on_done, trace)
        coro = self._pipeline(client, prepared, dict(namespace or {}), result, on_update, done)

        def stopped_before_start() -> None:
            end_result(result, "stopped")
            done()

        return AskHandle(prepared, result, runner.submit(coro, on_skipped=stopped_before_start))

    def ask_blocking(self, prepared: PreparedAsk, namespace: Mapping[str, Any] | None = None, *,
                     on_tick: Callable[[], None] | None = None,
                     on_update: Callable[[ChatResult], None] | None = None,
                     on_start: Callable[[AskHandle], None] | None = None) -> ChatResult:
        """Ask and wait, calling ``on_tick()`` every 0.1 s; ■ (KeyboardInterrupt) stops the answer.

        After ■ the connection is closed and the partial result comes back with status "stopped"
        (the interrupt is not re-raised: check ``result.status``).
        """
        handle = self.start(prepared, namespace, on_update=on_update)
        if on_start is not None:
            on_start(handle)
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            wait_interruptibly(handle.future, on_tick)
        handle.wait(5.0)
        from dbchat_magic.client import end_result

        return end_result(handle.result, "stopped")

    async def _pipeline(self, client: ChatClient, prepared: PreparedAsk,
                        namespace: dict[str, Any], result: ChatResult,
                        on_update: Callable[[ChatResult], None] | None,
                        done: _Settler) -> ChatResult:
        from dbchat_magic.client import end_result
        from dbchat_magic.events import TextDelta

        live = LiveSpecs(result, namespace, renderer_name(prepared.settings), on_update)
        trace = done.trace

        def on_event(event: object) -> None:
            if trace is not None and isinstance(event, TextDelta):
                trace.chunk(event.text)
            live.check()
            if on_update is not None:
                on_update(result)

        try:
            await client.complete(prepared.messages, endpoint=prepared.endpoint, result=result,
                                  on_event=on_event, **prepared.request_params())
            await live.drain()
            if result.ok:
                await apply_specs(client, prepared, namespace, result, rendered=live.rendered)
        except asyncio.CancelledError:
            end_result(result, "stopped")
            raise
        finally:
            live.cancel()
            # an unexpected error: never leave a live-looking result behind
            end_result(result, "failed", error="the answer ended unexpectedly")
            done()
        return result


class _Settler:
    """The end of one question, run once however it ended: cost, the turn recorded, logged and
    traced, then ``on_done``. Logging and tracing never raise; their notes go to
    ``result.extras["session_notes"]``."""

    def __init__(self, session: Session, prepared: PreparedAsk, result: ChatResult,
                 on_done: Callable[[ChatResult], None] | None, trace: AnswerTrace | None) -> None:
        self.session, self.prepared, self.result = session, prepared, result
        self.on_done, self.trace = on_done, trace
        self._ran = False

    def __call__(self) -> None:
        if self._ran:
            return
        self._ran = True
        prepared, result = self.prepared, self.result
        cost = _turn_log.cost_of(prepared.settings, result)
        if cost is not None:
            result.extras["cost"] = cost
        if not prepared.options.no_history and prepared.options.record:
            # the question only: with system_role off the last user message also holds the
            # system text, which must not repeat in every later turn's history
            self.session.conversation.add(prepared.question, result)
        notes: list[str] = []
        with contextlib.suppress(Exception):  # the log is never a reason for an answer to fail
            notes += _turn_log.log_turn(prepared, result, self.session.conversation.name)
        from dbchat_magic.tracing import take_notes

        if self.trace is not None:
            with contextlib.suppress(Exception):
                self.trace.end(result)
        notes += take_notes()  # a trace failing in the background: noted with the next answer
        if notes:
            result.extras["session_notes"] = notes
        if self.on_done is not None:
            with contextlib.suppress(Exception):
                self.on_done(result)


_sessions: dict[str, Session] = {}


def get_session(name: str = "default", *, new: bool = False,
                settings: Callable[[], Settings] | None = None) -> Session:
    """The `Session` of the conversation called ``name``; ``new=True`` starts that chat afresh."""
    from dbchat_magic.conversation import new_conversation

    session = _sessions.get(name)
    if new or session is None:
        conv = new_conversation(name) if new else get_conversation(name)
        session = _sessions[name] = Session(conv, settings)
        if new:
            session.notes += session.mark_reset()
        else:  # Session.restore never restores "default"
            session.notes += session.restore()
    return session
