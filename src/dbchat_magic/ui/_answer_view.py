"""The live answer view for notebooks; `make_answer_view` picks it or the plain-text fallback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any, Literal, Protocol

from dbchat_magic.markup import LiveMarkdown, escape
from dbchat_magic.result import ChatResult
from dbchat_magic.ui import _environment as environment
from dbchat_magic.ui._metrics_format import format_metrics, format_status
from dbchat_magic.ui._outcome import outcome as outcome_of
from dbchat_magic.ui._settled import (
    answer_html,
    sent_text,
    settled_outputs,
    spec_outputs,
    step_outputs,
)
from dbchat_magic.ui._throttle import DEFAULT_INTERVAL, Coalescer
from dbchat_magic.ui._widget_lifetime import close_tree

StopMode = Literal["button", "hint", "none"]
"""``none``: the caller has its own Stop (the ChatPanel)."""
ViewMode = Literal["auto", "widget", "text"]
TICK_SECONDS = 1.0
"""How often "thinking… N s" is refreshed while no token has arrived yet."""
MAX_TICK_SECONDS = 900.0
"""Stop ticking after this long even if `finish` never comes (no view ticks forever)."""
STOP_HINT = "press ■ (interrupt the kernel) to stop"


class AnswerView(Protocol):
    """What the magic and the panel drive: show once, update often (any thread), finish once."""

    def show(self) -> None:
        """Display the live view in the current output."""

    def update(self, result: ChatResult) -> None:
        """Cheap and thread-safe: re-render from ``result`` at most ~10 times a second."""

    def finish(self, result: ChatResult, *, settle: bool = True, outcome: bool = True) -> None:
        """Final render (status, metrics, error + next step, specs); ``settle`` shrinks it;
        ``outcome=False``: the cell's error says how it ended (no line of its own)."""

    def settled_outputs(self, result: ChatResult) -> list[Any]:
        """Objects to display() after `finish` so the answer survives save/reload."""

    def retire(self) -> None:
        """The live view gives way to the settled outputs: close whatever it holds open."""


def html_entry(markup: str, text: str) -> dict[str, Any]:
    """An Output-widget entry showing ``markup`` (already safe HTML); ``text`` is its plain form."""
    return {"output_type": "display_data",
            "data": {"text/html": markup, "text/plain": sent_text(text)}, "metadata": {}}


def bundle_entry(obj: Any) -> dict[str, Any]:
    """An Output-widget entry for an object with ``_repr_mimebundle_`` (the settled outputs)."""
    return {"output_type": "display_data", "data": obj._repr_mimebundle_(), "metadata": {}}


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@cache
def _box_class() -> type:
    """A VBox whose text/plain repr is stable (nbval compares it; the default repr has ids)."""
    import ipywidgets

    class AnswerBox(ipywidgets.VBox):
        """Root widget of a `WidgetAnswerView`."""

        def __repr__(self) -> str:
            return "<dbchat answer>"

    return AnswerBox


def _hide(widget: Any, hidden: bool = True) -> None:
    widget.layout.display = "none" if hidden else None


class WidgetAnswerView:
    """ipywidgets 7/8 view: status (+ Stop or hint), reasoning, answer, error, specs, footer.

    The answer Output is only ever changed by replacing ``outputs`` with one entry (docs/design.md:
    Stop), and renders are coalesced so a stream costs at most ``1/interval`` updates per second.
    """

    def __init__(self, *, endpoint: str, on_stop: Callable[[], None] | None,
                 stop_mode: StopMode = "button", interval: float = DEFAULT_INTERVAL) -> None:
        import ipywidgets as w

        self.endpoint = endpoint
        self._on_stop = on_stop
        self._result = ChatResult(endpoint=endpoint)
        self._lock = threading.RLock()
        self._finished = False
        self.stop_requested = False
        self._created = time.monotonic()
        self.stop_button: Any = None
        self.hint = stop_mode != "none" and not (stop_mode == "button" and on_stop is not None)
        """True when the status line says "press ■ to stop" (no Stop button that works here)."""
        self.status = w.HTML(value=self._status_html(format_status(self._result, 0.0)),
                             _dom_classes=("dbchat-status",))
        controls: list[Any] = [self.status]
        if stop_mode == "button" and on_stop is not None:
            self.stop_button = w.Button(description="Stop", icon="stop", button_style="warning",
                                        tooltip="Stop this answer (keeps the partial text)",
                                        _dom_classes=("dbchat-stop",))
            self.stop_button.on_click(self._clicked)
            controls.append(self.stop_button)
        # Everything starts in its final shape so that building the view sends no update messages:
        # hidden parts get their layout at construction and empty parts simply render nothing.
        self.reasoning_out = w.Output()
        titles = ({"titles": ("Reasoning",)} if environment.ipywidgets_major() != 7
                  else {"_titles": {"0": "Reasoning"}})
        self.reasoning = w.Accordion(children=[self.reasoning_out], selected_index=None,
                                     layout=w.Layout(display="none"), **titles)
        self.steps: Any = None  # made when the first tool step arrives (agents only)
        self.answer = w.Output(_dom_classes=("dbchat-answer",))
        self.error = w.HTML(_dom_classes=("dbchat-error",))
        self.specs = w.Output()
        self.footer = w.HTML(_dom_classes=("dbchat-metrics",))
        self.widget = _box_class()([w.HBox(controls), self.reasoning, self.answer, self.error,
                                    self.specs, self.footer])
        self._throttle = Coalescer(self._render, interval, lock=self._lock)
        self._shown_text: tuple[str, int] | None = None
        self._shown_reasoning: str | None = None
        self._shown_steps = 0
        self._shown_specs: Any = None
        self._live_text = LiveMarkdown()  # the answer re-renders only its unfinished end
        self._live_reasoning = LiveMarkdown()

    # -- AnswerView ---------------------------------------------------------------------------
    def show(self) -> None:
        """Display the root widget and start the "thinking… N s" clock."""
        from IPython.display import display

        # An empty text/html beside the widget: after `retire` the saved notebook keeps an empty
        # output (no "Loading widget..." on reload), and nbval sees the same keys before and after.
        bundle = {"text/plain": repr(self.widget), "text/html": "", WIDGET_VIEW: {
            "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id}}
        self._display = display(bundle, raw=True, display_id=True)
        self.start_clock()

    def start_clock(self) -> None:
        """Start the "thinking… N s" clock (`show` does; a view shown inside another widget
        calls it itself)."""
        self._throttle.request_later(TICK_SECONDS)

    def retire(self) -> None:
        """Replace the live view by an empty output (the settled outputs hold the answer), then
        close its widgets: a saved notebook then refers to no widget model at all."""
        handle = getattr(self, "_display", None)
        if handle is not None:
            handle.update({"text/plain": repr(self.widget), "text/html": ""}, raw=True)
        self.close()

    def close(self) -> None:
        """Close every widget and comm of this view (layouts and styles too); it renders no more."""
        with self._lock:
            self._finished = True
            self._throttle.close()
        close_tree(self.widget)

    def update(self, result: ChatResult) -> None:
        """Remember ``result`` and ask for a (coalesced) render; safe from any thread."""
        if self._finished:
            return
        self._result = result
        self._throttle.request()

    def finish(self, result: ChatResult, *, settle: bool = True, outcome: bool = True) -> None:
        """Final render; ``settle`` (the magic displays `settled_outputs` next) shrinks it.
        ``outcome`` is for the text view (a settled widget view shows no outcome line)."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._throttle.close()
            self._result = result
            self._render_text(result, final=not settle)  # settled: the outputs render it whole
            found = outcome_of(result)  # not completed: its one line replaces the status
            failed = found is not None and found.tone == "red"  # a failure: in the error line
            self.status.value = ("" if failed else escape(format_status(result)) if found is None
                                 else found.as_html())
            if failed and found is not None:
                self.error.value = found.as_html()
            if self.stop_button is not None:
                _hide(self.stop_button)
            if settle:  # the answer, specs, metrics and any error are displayed as outputs next
                _hide(self.answer)
                if self._shown_specs is not None:  # live charts: the settled outputs hold them
                    self.specs.outputs = ()
                return
            self.footer.value = f"<small>{escape(format_metrics(result))}</small>"
            self._render_specs(result, force=True)

    def settled_outputs(self, result: ChatResult) -> list[Any]:
        """Markdown answer, spec bundles, status line (when not completed) and the metrics line."""
        return settled_outputs(result)

    # -- internals ----------------------------------------------------------------------------
    @property
    def renders(self) -> int:
        """How many throttled renders ran (for tests and benchmarks)."""
        return self._throttle.renders

    def _clicked(self, _button: Any) -> None:
        if self._finished or self.stop_requested or self._on_stop is None:
            return
        self.stop_requested = True
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"
        try:
            self._on_stop()
        except Exception as exc:  # a click must never raise into the kernel's comm handler
            self.error.value = escape(f"could not stop: {exc}")

    def _render(self) -> None:
        with self._lock:
            if self._finished:
                return
            result = self._result
            elapsed = time.time() - result.metrics.started_at
            self.status.value = self._status_html(format_status(result, elapsed))
            self._render_text(result)
            self._render_specs(result)
            if result.status == "pending" and time.monotonic() - self._created < MAX_TICK_SECONDS:
                self._throttle.request_later(TICK_SECONDS)

    def _status_html(self, text: str) -> str:
        hint = f" <small>· {escape(STOP_HINT)}</small>" if self.hint else ""
        return escape(text) + hint

    def _render_text(self, result: ChatResult, *, final: bool = False) -> None:
        """Show the reasoning and the answer as sanitized HTML (``final``: rendered whole)."""
        if result.reasoning != self._shown_reasoning or final:
            self._shown_reasoning = result.reasoning
            live = None if final else self._live_reasoning
            entries = ((html_entry(answer_html(result.reasoning, live=live), result.reasoning),)
                       if result.reasoning else ())
            self.reasoning_out.outputs = entries
            _hide(self.reasoning, not result.reasoning)
        if result.steps and (len(result.steps) != self._shown_steps or final):
            self._shown_steps = len(result.steps)
            self._steps_output().outputs = tuple(bundle_entry(i) for i in step_outputs(result))
        specs = result.extras.get("specs")
        shown = (result.text, id(specs) if specs else 0)
        if shown != self._shown_text or final:
            self._shown_text = shown
            live = None if final else self._live_text  # spec JSON folded away once drawn
            markup = answer_html(result.text, fold=bool(specs), live=live) if result.text else ""
            self.answer.outputs = (html_entry(markup, result.text),) if result.text else ()

    def _steps_output(self) -> Any:
        """The Output of the collapsed "Steps" section, made (after the reasoning) on first use:
        answers without tool steps carry no extra widgets."""
        if self.steps is None:
            import ipywidgets as w

            out = w.Output()
            titles = ({"titles": ("Steps",)} if environment.ipywidgets_major() != 7
                      else {"_titles": {"0": "Steps"}})
            self.steps = w.Accordion(children=[out], selected_index=None, **titles)
            children = list(self.widget.children)
            self.widget.children = (*children[:2], self.steps, *children[2:])
        return self.steps.children[0]

    def _render_specs(self, result: ChatResult, *, force: bool = False) -> None:
        """Show the specs rendered so far (live: as soon as their block closed), once per list."""
        specs = result.extras.get("specs")
        if specs is self._shown_specs and not force:
            return
        self._shown_specs = specs
        entries = tuple(bundle_entry(item) for item in spec_outputs(result))
        if entries or self.specs.outputs:
            self.specs.outputs = entries


def make_answer_view(*, endpoint: str, on_stop: Callable[[], None] | None,
                     stop_mode: StopMode = "button", mode: ViewMode = "auto",
                     widgets: str = "auto") -> AnswerView:
    """The live view for this kernel: widgets where the front end can show them (``widgets``:
    the setting, `_environment.widgets_choice`); in a kernel whose widgets would not show (or
    with ``widgets="off"``) one plain output updated in place, saying once why; plain text
    outside a kernel, without ipywidgets, or with ``mode="text"``."""
    if mode == "widget":
        return WidgetAnswerView(endpoint=endpoint, on_stop=on_stop, stop_mode=stop_mode)
    if mode == "auto":
        use, note = environment.widgets_choice(widgets)
        if use:
            return WidgetAnswerView(endpoint=endpoint, on_stop=on_stop, stop_mode=stop_mode)
        if environment.in_kernel() and environment.ipywidgets_major() is not None:
            from dbchat_magic.ui._display_view import DisplayAnswerView

            return DisplayAnswerView(endpoint=endpoint, hint=stop_mode == "hint", note=note)
    from dbchat_magic.ui._text_view import TextAnswerView

    return TextAnswerView(endpoint=endpoint)
