"""One question's pipeline: compose → stream on the runner loop → specs (validate, one repair turn,
render) → record the turn. Used by the `%%dbchat` magic (blocking or background) and the ChatPanel.

Settings are read fresh on every `Session.prepare`, so `%dbchat use NAME` or a panel change applies
to the next question without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbchat_magic.conversation import Conversation, get_conversation
from dbchat_magic.errors import ConfigError
from dbchat_magic.result import ChatResult
from dbchat_magic.runner import TaskFuture, get_runner, wait_interruptibly

if TYPE_CHECKING:
    from dbchat_magic.client import ChatClient
    from dbchat_magic.config import Settings


@dataclass
class AskOptions:
    """Per-question overrides; ``None`` means "use the settings"."""

    endpoint: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    persona: str | None = None
    frames: list[str] | None = None
    no_history: bool = False


@dataclass
class PreparedAsk:
    """Everything needed to send one question: the exact messages, their parts and parameters."""

    question: str
    messages: list[dict[str, Any]]
    parts: list[Any]
    params: dict[str, Any]
    settings: Settings
    options: AskOptions = field(default_factory=AskOptions)

    @property
    def endpoint(self) -> str:
        """The serving endpoint this question goes to."""
        return str(self.params["endpoint"])


class AskHandle:
    """A running question: ``result`` is live while it streams; ``cancel()`` stops it."""

    def __init__(self, prepared: PreparedAsk, result: ChatResult, future: TaskFuture) -> None:
        self.prepared = prepared
        self.result = result
        self.future = future

    def cancel(self) -> None:
        """Stop the answer: the request is cancelled and its connection closed; text is kept."""
        self.future.cancel()

    @property
    def done(self) -> bool:
        """True once the pipeline has ended (the result is final and the turn recorded)."""
        return self.future.settled

    def wait(self, timeout: float | None = None) -> ChatResult:
        """Block (not interruptibly) until the pipeline has ended; returns the result."""
        self.future.wait_settled(timeout)
        return self.result


class Session:
    """Asks questions in one `Conversation`; settings are read fresh on every question."""

    def __init__(self, conversation: Conversation,
                 settings: Callable[[], Settings] | None = None) -> None:
        self.conversation = conversation
        self._settings = settings

    def settings(self) -> Settings:
        """The current settings (the provider given, else the persisted settings file)."""
        if self._settings is not None:
            return self._settings()
        from dbchat_magic.config import Settings

        return Settings.load()

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
        composed = prompts.compose(
            question, namespace=namespace or {}, frames=options.frames, history=history,
            persona=options.persona or settings.persona, format_rules=specs.format_rules(),
            settings=settings)
        params: dict[str, Any] = {
            "endpoint": endpoint,
            "temperature": settings.temperature if options.temperature is None
            else options.temperature,
            "max_tokens": settings.max_tokens if options.max_tokens is None else options.max_tokens,
        }
        return PreparedAsk(question=question, messages=list(composed.messages),
                           parts=list(composed.parts), params=params, settings=settings,
                           options=options)

    def start(self, prepared: PreparedAsk, namespace: Mapping[str, Any] | None = None, *,
              on_update: Callable[[ChatResult], None] | None = None,
              on_done: Callable[[ChatResult], None] | None = None) -> AskHandle:
        """Start the pipeline on the runner loop and return at once.

        ``on_update(result)`` runs on the loop thread after each streamed event; ``on_done(result)``
        once at the very end (also when stopped or failed). Raises `DbChatError` at once when no
        client can be made (e.g. missing credentials).
        """
        runner = get_runner()
        client = runner.client(prepared.settings)
        if any(p.name == "data context" and p.chars for p in prepared.parts):
            warm_up_renderer(_renderer(prepared.settings))  # frames in the prompt: charts likely
        result = ChatResult(endpoint=prepared.endpoint)
        coro = self._pipeline(client, prepared, dict(namespace or {}), result, on_update, on_done)

        def stopped_before_start() -> None:
            result.status = "stopped"
            self._settle(prepared, result, on_done)

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
        if not handle.result.done:
            handle.result.status = "stopped"
        return handle.result

    async def _pipeline(self, client: ChatClient, prepared: PreparedAsk,
                        namespace: dict[str, Any], result: ChatResult,
                        on_update: Callable[[ChatResult], None] | None,
                        on_done: Callable[[ChatResult], None] | None) -> ChatResult:
        live = LiveSpecs(result, namespace, _renderer(prepared.settings), on_update)

        def on_event(_event: object) -> None:
            live.check()
            if on_update is not None:
                on_update(result)

        params = {k: v for k, v in prepared.params.items() if k != "endpoint" and v is not None}
        try:
            await client.complete(prepared.messages, endpoint=prepared.endpoint, result=result,
                                  on_event=on_event, **params)
            await live.drain()
            if result.ok:
                await apply_specs(client, prepared, namespace, result, rendered=live.rendered)
        except asyncio.CancelledError:
            if not result.done:
                result.status = "stopped"
            raise
        finally:
            live.cancel()
            if not result.done:  # an unexpected error: never leave a live-looking result behind
                result.status = "failed"
                result.error = result.error or "the answer ended unexpectedly"
            self._settle(prepared, result, on_done)
        return result

    def _settle(self, prepared: PreparedAsk, result: ChatResult,
                on_done: Callable[[ChatResult], None] | None) -> None:
        """Record the turn and tell ``on_done`` (once per question, however it ended)."""
        if not prepared.options.no_history:
            # the question only: with system_role off the last user message also holds the
            # system text, which must not repeat in every later turn's history
            self.conversation.add(prepared.question, result)
        if on_done is not None:
            with contextlib.suppress(Exception):
                on_done(result)


def _renderer(settings: Settings) -> str:
    return getattr(settings, "chart_renderer", None) or "svg"


def spec_key(spec: Any) -> str:
    """A stable identity for a parsed spec (same content → same key)."""
    return json.dumps(spec, sort_keys=True, default=str)


_warm_started = threading.Event()
_WARM_SPEC = {"widget": "chart", "data": "_dbchat_warm_up", "mark": "bar",
              "x": {"field": "k", "type": "nominal"}, "y": {"field": "v", "type": "quantitative"}}


def warm_up_renderer(renderer: str) -> None:
    """Once per process, in a daemon thread: pay the spec renderer's start-up (jsonschema and
    Altair imports, the vl-convert engine: ~3.5 s cold on a loaded machine) ahead of the first
    chart, so a live chart shows soon after its block closes."""
    if renderer == "text" or _warm_started.is_set():
        return
    _warm_started.set()
    threading.Thread(target=_warm_up, args=(renderer,), daemon=True,
                     name="dbchat-render-warm-up").start()


def _warm_up(renderer: str) -> None:
    with contextlib.suppress(Exception):
        import pandas as pd

        from dbchat_magic import specs

        frame = pd.DataFrame({"k": ["a"], "v": [1.0]})
        specs.render_spec(_WARM_SPEC, {"_dbchat_warm_up": frame}, renderer=renderer)


class LiveSpecs:
    """Renders specs while the answer still streams, as soon as their fenced block has closed.

    `check()` runs on the loop thread after every event and only counts new fences (cheap); when a
    fence closes a block it starts one scan task: extract → render new valid specs in a worker
    thread (each spec once) → ``result.extras["specs"]`` gets a new list → ``on_update(result)``.
    Invalid specs are left to the final pass (repair turn, errors), which reuses `rendered`.
    """

    def __init__(self, result: ChatResult, namespace: Mapping[str, Any], renderer: str,
                 on_update: Callable[[ChatResult], None] | None) -> None:
        self.result = result
        self.namespace = namespace
        self.renderer = renderer
        self.on_update = on_update
        self.rendered: dict[str, Any] = {}
        """spec key → RenderedSpec for every spec rendered live (valid ones only)."""
        self.scans = 0
        self._tried: set[str] = set()
        self._scan_from = 0
        self._fences = 0
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def check(self) -> None:
        """Count fences in the new text; a fence that closes a block starts (or re-arms) a scan."""
        text = self.result.text
        pos, closed = self._scan_from, False
        while True:
            found = [i for i in (text.find("```", pos), text.find("~~~", pos)) if i >= 0]
            if not found:
                break
            pos = min(found) + 3
            self._fences += 1
            closed = closed or self._fences % 2 == 0
        self._scan_from = max(pos, len(text) - 2)
        if self._fences:  # a block opened: start the renderer while the block streams
            warm_up_renderer(self.renderer)
        if not closed:
            return
        if self._task is not None and not self._task.done():
            self._again = True
        else:
            self._task = asyncio.get_running_loop().create_task(self._scan())

    async def _scan(self) -> None:
        while True:
            self._again = False
            self.scans += 1
            fresh = await asyncio.to_thread(self._render_new, self.result.text)
            if fresh:
                self.rendered.update(fresh)
                self.result.extras["specs"] = list(self.rendered.values())  # a new list: readers
                if self.on_update is not None:                          # on other threads
                    with contextlib.suppress(Exception):
                        self.on_update(self.result)
            if not self._again:
                return

    def _render_new(self, text: str) -> dict[str, Any]:
        """Render the complete specs of ``text`` not tried yet (worker thread); valid ones only."""
        from dbchat_magic import specs

        fresh: dict[str, Any] = {}
        for ex in specs.extract_specs(text):
            if not isinstance(ex.spec, dict):
                continue
            key = spec_key(ex.spec)
            if key in self._tried:
                continue
            self._tried.add(key)
            rendered = specs.render_spec(ex.spec, self.namespace, renderer=self.renderer)
            if rendered.ok:  # an invalid spec is left to the final pass (repair or errors)
                fresh[key] = rendered
        return fresh

    async def drain(self) -> None:
        """Wait for a running scan, so the final pass sees every live render."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._task)

    def cancel(self) -> None:
        """Drop a running scan (the answer was stopped or failed)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()


async def apply_specs(client: ChatClient, prepared: PreparedAsk, namespace: Mapping[str, Any],
                      result: ChatResult, *, rendered: Mapping[str, Any] | None = None) -> None:
    """Extract, validate (one repair turn if needed) and render the widget specs of an answer.

    Fills ``result.extras["specs"]`` (rendered specs, invalid ones carry their errors) and
    ``result.extras["repaired"]`` when the repair turn fixed a spec. ``rendered`` (spec key →
    RenderedSpec, from `LiveSpecs`) holds specs already rendered while streaming: they are reused,
    never rendered twice. Never raises for bad specs.
    """
    from dbchat_magic import specs

    found = specs.extract_specs(result.text)
    if not found:
        return
    entries: list[tuple[Any, list[str]]] = []
    for ex in found:
        if ex.spec is None:
            entries.append((ex.raw, [f"spec: {ex.error or 'not valid JSON'}"]))
        else:
            entries.append((ex.spec, specs.validate_spec(ex.spec, namespace)))
    settings = prepared.settings
    bad = [i for i, (_, errors) in enumerate(entries) if errors]
    if bad and getattr(settings, "spec_repair", True):
        index = bad[0]
        spec, errors = entries[index]
        repair = ChatResult(endpoint=prepared.endpoint)
        messages = [*prepared.messages, {"role": "assistant", "content": result.text},
                    {"role": "user", "content": specs.repair_message(spec, errors)}]
        params = {k: v for k, v in prepared.params.items() if k != "endpoint" and v is not None}
        await client.complete(messages, endpoint=prepared.endpoint, result=repair, **params)
        fixed = [x.spec for x in specs.extract_specs(repair.text) if x.spec is not None]
        after = (specs.validate_spec(fixed[0], namespace) if fixed
                 else ["spec: the reply held no spec"])
        result.extras["repair"] = {"status": repair.status, "errors_before": errors,
                                   "errors_after": after, "text": repair.text}
        if fixed and not after:
            entries[index] = (fixed[0], [])
            result.extras["repaired"] = True
    renderer = _renderer(settings)
    done = dict(rendered or {})
    out = []
    for spec, errors in entries:
        if isinstance(spec, dict):
            earlier = done.get(spec_key(spec))
            out.append(earlier if earlier is not None and not errors else
                       await asyncio.to_thread(specs.render_spec, spec, namespace,
                                               renderer=renderer))
        else:  # the block never parsed: nothing to render; the views list its errors
            out.append(specs.RenderedSpec("error", {}, [], errors))
    result.extras["specs"] = out


_sessions: dict[str, Session] = {}


def get_session(name: str = "default", *, new: bool = False,
                settings: Callable[[], Settings] | None = None) -> Session:
    """The `Session` of the conversation called ``name``; ``new=True`` starts that chat afresh."""
    from dbchat_magic.conversation import new_conversation

    session = _sessions.get(name)
    if new or session is None:
        conv = new_conversation(name) if new else get_conversation(name)
        session = _sessions[name] = Session(conv, settings)
    return session
