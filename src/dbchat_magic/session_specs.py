"""The spec side of a question: render specs live as their blocks close while the answer streams,
then the final pass (validate, one repair turn, render what is left). Used by `session`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dbchat_magic.result import ChatResult

if TYPE_CHECKING:
    from dbchat_magic.client import ChatClient
    from dbchat_magic.config import Settings
    from dbchat_magic.session import PreparedAsk


__all__ = ["LiveSpecs", "apply_specs", "renderer_name", "spec_key", "stop_warm_up",
           "warm_up_at_load", "warm_up_renderer"]


def renderer_name(settings: Settings) -> str:
    """The chart renderer the settings ask for (svg when unset)."""
    return getattr(settings, "chart_renderer", None) or "svg"


def spec_key(spec: Any) -> str:
    """A stable identity for a parsed spec (same content → same key)."""
    return json.dumps(spec, sort_keys=True, default=str)


_warm_started = threading.Event()
_WARM_SPEC = {"widget": "chart", "data": "_dbchat_warm_up", "mark": "bar",
              "x": {"field": "k", "type": "nominal"}, "y": {"field": "v", "type": "quantitative"}}


def _saved_renderer() -> str:
    """The chart renderer of the saved settings (svg when they cannot be read)."""
    with contextlib.suppress(Exception):
        from dbchat_magic.config import Settings

        return renderer_name(Settings.load())
    return "svg"


def _start_worker(renderer: str | None) -> None:
    """Start and warm the chart render worker process (not needed for the text renderer)."""
    if (renderer or _saved_renderer()) != "text":
        with contextlib.suppress(Exception):
            from dbchat_magic.specs import shared_worker

            shared_worker().start()


def warm_up_renderer(renderer: str | None = None) -> None:
    """Once per process, in daemon threads: start the chart render worker process (vl-convert
    warms there) and pay the kernel side's start-up (jsonschema and Altair imports: ~2–3 s cold
    on a loaded machine) ahead of the first chart, so a live chart shows soon after its block
    closes. ``None``: the renderer of the saved settings."""
    if renderer == "text" or _warm_started.is_set():
        return
    _warm_started.set()
    threading.Thread(target=_warm_up, args=(renderer,), daemon=True,
                     name="dbchat-render-warm-up").start()


def _warm_up(renderer: str | None) -> None:
    renderer = renderer or _saved_renderer()
    if renderer == "text":
        _warm_started.clear()
        return
    threading.Thread(target=_start_worker, args=(renderer,), daemon=True,
                     name="dbchat-render-start").start()
    with contextlib.suppress(Exception):
        import pandas as pd

        from dbchat_magic import specs

        frame = pd.DataFrame({"k": ["a"], "v": [1.0]})
        specs.render_spec(_WARM_SPEC, {"_dbchat_warm_up": frame}, renderer=renderer)


class _WarmAfterCell:
    """A ``post_run_cell`` callback: when the cell that loaded the extension has finished, start
    `warm_up_renderer` in the background (so the import cost never lands in ``%load_ext``
    itself), then remove itself."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    def __call__(self, *_: Any) -> None:
        stop_warm_up(self.shell)
        warm_up_renderer()


def warm_up_at_load(shell: Any) -> None:
    """``%load_ext``: start the render worker process now in the background (the kernel itself
    imports nothing heavy), and warm the kernel side once the loading cell has finished."""
    threading.Thread(target=_start_worker, args=(None,), daemon=True,
                     name="dbchat-render-start").start()
    events = getattr(shell, "events", None)
    if events is not None and not any(isinstance(cb, _WarmAfterCell)
                                      for cb in events.callbacks.get("post_run_cell", ())):
        events.register("post_run_cell", _WarmAfterCell(shell))


def stop_warm_up(shell: Any) -> None:
    """Remove the `warm_up_at_load` callback (``%unload_ext``)."""
    events = getattr(shell, "events", None)
    for cb in list(events.callbacks.get("post_run_cell", ())) if events is not None else ():
        if isinstance(cb, _WarmAfterCell):
            events.unregister("post_run_cell", cb)


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
        """spec key → RenderedSpec for every valid spec rendered live (drawn, or failed to draw:
        a renderer crash or limit is not retried in the final pass)."""
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
            if rendered.ok or rendered.draw_failed:  # an invalid spec is left to the final
                # pass (repair or errors); a renderer crash or limit would only happen again
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


async def apply_specs(client: ChatClient, prepared: PreparedAsk,
                      namespace: Mapping[str, Any],
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
    renderer = renderer_name(settings)
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
