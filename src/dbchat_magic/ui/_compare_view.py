"""The live view of a compare run: one answer view per endpoint in a wrapping row of columns
(side by side, stacked when narrow), one Stop button (or the ■ hint) above them; and the settled
output that replaces it: the same columns as sanitized HTML, for a saved notebook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dbchat_magic.markup import escape
from dbchat_magic.result import ChatResult
from dbchat_magic.ui._answer_view import WIDGET_VIEW, WidgetAnswerView, make_answer_view
from dbchat_magic.ui._settled import settled_outputs
from dbchat_magic.ui._widget_lifetime import close_tree

COLUMN_CSS = "flex:1 1 320px;min-width:280px;max-width:100%;overflow-x:auto"
ROW_CSS = "display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start"
STOP_ALL_HINT = "press ■ to stop all"


class CompareView:
    """Columns of live answer views; ``on_stop`` stops every answer (a button when ``button``,
    else the ■ hint). Plain text outside a widget kernel: a line now, the columns at the end.
    ``inline``: shown inside another widget (the ChatPanel, whose Stop stops all): widget views
    always, no stop control of its own, and the widget is just the row of columns."""

    def __init__(self, endpoints: Sequence[str], on_stop: Callable[[], None] | None = None, *,
                 button: bool = False, inline: bool = False) -> None:
        self.views = [make_answer_view(endpoint=e, on_stop=None, stop_mode="none",
                                       mode="widget" if inline else "auto") for e in endpoints]
        self.endpoints = list(endpoints)
        self.widget: Any = None
        self._display: Any = None
        if inline:
            self.widget = _columns_row(self.views)
        elif all(hasattr(v, "widget") for v in self.views):
            self.widget = _columns_widget(self.views, on_stop or _no_stop, button=button)

    def show(self) -> None:
        """Display the columns (or one line) and start each view's "thinking…" clock."""
        from IPython.display import display

        bundle: dict[str, Any] = {"text/plain": "<dbchat compare>", "text/html": self._header()}
        if self.widget is None:  # plain outputs: the header now, the columns at the end
            self._display = display(bundle, raw=True, display_id=True)
            return
        bundle[WIDGET_VIEW] = {"version_major": 2, "version_minor": 0,
                               "model_id": self.widget.model_id}
        self._display = display(bundle, raw=True, display_id=True)
        self.start_clocks()

    def _header(self) -> str:
        """One line above the columns: also what shows where widgets cannot (a saved notebook)."""
        return (f"<small>{len(self.endpoints)} answers side by side: "
                f"{escape(', '.join(self.endpoints))}</small>")

    def start_clocks(self) -> None:
        """Start each column's "thinking… N s" clock (`show` does; ``inline`` views call it)."""
        for view in self.views:
            if isinstance(view, WidgetAnswerView):
                view.start_clock()

    def update(self, i: int, result: ChatResult) -> None:
        """Column ``i`` got an event (any thread)."""
        if self.widget is not None:
            self.views[i].update(result)

    def settled(self, results: Sequence[ChatResult]) -> SettledColumns:
        """The finished answers as one output."""
        return SettledColumns(results)

    def retire(self) -> None:
        """Replace the live columns by their header line and close every widget."""
        if self.widget is None:
            return
        if self._display is not None:  # the same header (nbval sees the first display only)
            self._display.update({"text/plain": "<dbchat compare>", "text/html": self._header()},
                                 raw=True)
        for view in self.views:
            if isinstance(view, WidgetAnswerView):
                view.close()
        close_tree(self.widget)


def _no_stop() -> None:
    """No stop wired (an inline view's owner stops the run)."""


def _columns_row(views: list[Any]) -> Any:
    """The answer views side by side in a wrapping row (each column ≥ 280 px)."""
    import ipywidgets as w

    for view in views:
        view.widget.layout.flex = "1 1 320px"
        view.widget.layout.min_width = "280px"
        view.widget.add_class("dbchat-compare-column")
    return w.Box([v.widget for v in views], layout=w.Layout(
        display="flex", flex_flow="row wrap", align_items="flex-start", width="100%"),
        _dom_classes=("dbchat-compare",))


def _columns_widget(views: list[Any], on_stop: Callable[[], None], *, button: bool) -> Any:
    import ipywidgets as w

    row = _columns_row(views)
    if not button:
        return w.VBox([w.HTML(f"<small>{escape(STOP_ALL_HINT)}</small>"), row])
    stop = w.Button(description="Stop all", icon="stop", button_style="warning",
                    tooltip="Stop every answer (keeps the partial texts)",
                    _dom_classes=("dbchat-stop",))

    def clicked(_button: Any) -> None:
        if stop.disabled:
            return
        stop.disabled = True
        stop.description = "Stopping…"
        try:
            on_stop()
        except Exception as exc:  # a click must never raise into the kernel's comm handler
            stop.description = escape(f"could not stop: {exc}")[:80]
    stop.on_click(clicked)
    return w.VBox([stop, row])


class SettledColumns:
    """Finished answers side by side: one sanitized HTML output (each column the answer, specs,
    status and metrics lines) and the same as plain text, column after column."""

    def __init__(self, results: Sequence[ChatResult]) -> None:
        columns, texts = [], []
        for r in results:
            items = settled_outputs(r)
            parts = [p for p in (_html_of(item) for item in items) if p]
            columns.append(f"<div class='dbchat-compare-column' style='{COLUMN_CSS}'>"
                           f"<div><b>{escape(r.endpoint)}</b></div>"
                           + "".join(f"<div>{p}</div>" for p in parts) + "</div>")
            plain = [str(item._repr_mimebundle_().get("text/plain") or "") for item in items]
            texts.append(f"── {r.endpoint} ──\n" + "\n\n".join(t for t in plain if t))
        self.markup = f"<div class='dbchat-compare' style='{ROW_CSS}'>{''.join(columns)}</div>"
        self.text = "\n\n".join(texts)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self.markup, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


def _html_of(item: Any) -> str | None:
    as_html = getattr(item, "as_html", None)
    part = as_html() if callable(as_html) else None
    return part if isinstance(part, str) else None
