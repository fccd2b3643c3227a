"""The chart renderer's warm-up: start the render worker process and pay the kernel side's
imports ahead of the first chart, without ever slowing ``%load_ext``."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbchat_magic.config import Settings

def renderer_name(settings: Settings) -> str:
    """The chart renderer the settings ask for (vegalite when unset)."""
    return getattr(settings, "chart_renderer", None) or "vegalite"


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
    if events is None:
        return
    for cb in list(events.callbacks.get("post_run_cell", ())):
        if isinstance(cb, _WarmAfterCell):
            events.unregister("post_run_cell", cb)
