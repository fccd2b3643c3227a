"""The spec side of a question: render specs live as their blocks close while the answer streams,
then the final pass (validate, one repair turn, render what is left). Used by the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dbchat_magic.result import ChatResult
from dbchat_magic.session._warm_up import renderer_name, warm_up_renderer

if TYPE_CHECKING:
    from dbchat_magic.client import ChatClient
    from dbchat_magic.session._ask import PreparedAsk


def spec_key(spec: Any) -> str:
    """A stable identity for a parsed spec (same content → same key)."""
    return json.dumps(spec, sort_keys=True, default=str)


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
        await client.complete(messages, endpoint=prepared.endpoint, result=repair,
                              **prepared.request_params())
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
