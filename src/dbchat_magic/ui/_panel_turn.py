"""One turn of the ChatPanel's history: a question bubble and its answer bubble — one live answer
(`PanelTurn`) or, in compare mode, one column per endpoint and a table (`PanelCompareTurn`).

A turn outside the panel's visible window keeps only its question and result (``release``) and is
rebuilt from them when shown again (``restore``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dbchat_magic.markup import escape
from dbchat_magic.result import ChatResult
from dbchat_magic.ui._answer_view import WidgetAnswerView
from dbchat_magic.ui._outcome import outcome
from dbchat_magic.ui._transcript import TranscriptTurn
from dbchat_magic.ui._widget_lifetime import close_tree

if TYPE_CHECKING:
    from dbchat_magic.session import CompareResult
    from dbchat_magic.ui._compare_view import CompareView

COMPARE_NOTE = ("compare answers are not part of the conversation: clear “compare with” (⚙) and "
                "ask again to continue with one endpoint")


def question_bubble(question: str) -> Any:
    """The user's question, labelled "You"."""
    import ipywidgets as w

    return w.HTML(f'<div class="dbchat-role">You</div>'
                  f'<div class="dbchat-text">{escape(question)}</div>',
                  _dom_classes=("dbchat-bubble", "dbchat-user"))


def answer_bubble(label: str, body: Sequence[Any]) -> Any:
    """An assistant bubble labelled ``label`` (an endpoint, or the endpoints compared)."""
    import ipywidgets as w

    return w.VBox([w.HTML(f'<div class="dbchat-role">{escape(label)}</div>'), *body],
                  _dom_classes=("dbchat-bubble", "dbchat-assistant"))


def settle_view(view: WidgetAnswerView, result: ChatResult) -> None:
    """Show ``result`` as a final answer: metrics small; the status line only when it says how
    the answer ended (■ stopped, cut off: amber); a failure is in the error line."""
    view.finish(result, settle=False)
    if outcome(result) is None or view.status.value == "":
        view.status.layout.display = "none"  # the footer (or the error line) says it all


class PanelTurn:
    """One question and its live answer, as two labelled bubbles inside the panel's history."""

    __slots__ = ("endpoint", "question", "result", "view", "widget")  # one per turn, kept

    def __init__(self, question: str, endpoint: str, result: ChatResult | None = None, *,
                 build: bool = True) -> None:
        self.question = question
        self.endpoint = endpoint
        self.result = result
        self.view: WidgetAnswerView | None = None
        self.widget: Any = None
        if build:
            self.restore()

    def restore(self) -> None:
        """Build the widgets (again), showing the finished answer when there is one."""
        import ipywidgets as w

        if self.widget is not None:
            return
        self.view = WidgetAnswerView(endpoint=self.endpoint, on_stop=None, stop_mode="none")
        self.widget = w.VBox([question_bubble(self.question),
                              answer_bubble(self.endpoint, [self.view.widget])],
                             _dom_classes=("dbchat-turn",))
        if self.result is not None:
            self.settle(self.result)

    def settle(self, result: ChatResult) -> None:
        """Show ``result`` as the final answer."""
        if self.view is not None:
            settle_view(self.view, result)

    def release(self) -> None:
        """Close this turn's widgets (it left the visible window); question and result stay."""
        if self.widget is not None:
            close_tree(self.widget)
            self.view = self.widget = None

    def transcript(self) -> TranscriptTurn:
        """This turn for the plain transcript."""
        return TranscriptTurn(self.question, self.endpoint, self.result)


class PanelCompareTurn:
    """One question asked of several endpoints at once: a column per endpoint streaming its
    answer (side by side, stacked when narrow) and, once all have ended, the table of first
    token, total, tokens, tok/s, cost and status (`CompareResult`'s)."""

    __slots__ = ("columns", "endpoints", "question", "result", "table", "widget")

    def __init__(self, question: str, endpoints: Sequence[str],
                 result: CompareResult | None = None, *, build: bool = True) -> None:
        self.question = question
        self.endpoints = list(endpoints)
        self.result = result
        self.columns: CompareView | None = None
        self.table: Any = None
        self.widget: Any = None
        if build:
            self.restore()

    @property
    def endpoint(self) -> str:
        """The endpoints compared, as the answer bubble's label."""
        return "compare: " + " · ".join(self.endpoints)

    def restore(self) -> None:
        """Build the widgets (again), showing the finished answers when there are some."""
        import ipywidgets as w

        from dbchat_magic.ui._compare_view import CompareView

        if self.widget is not None:
            return
        self.columns = CompareView(self.endpoints, inline=True)
        self.table = w.HTML(_dom_classes=("dbchat-compare-summary",))
        self.widget = w.VBox([question_bubble(self.question),
                              answer_bubble(self.endpoint, [self.columns.widget, self.table])],
                             _dom_classes=("dbchat-turn", "dbchat-compare-turn"))
        if self.result is not None:
            self.settle(self.result)

    def start(self) -> None:
        """Start the columns' "thinking… N s" clocks."""
        if self.columns is not None:
            self.columns.start_clocks()

    def update(self, i: int, result: ChatResult) -> None:
        """Column ``i`` got an event (any thread)."""
        if self.columns is not None:
            self.columns.update(i, result)

    def settle(self, result: CompareResult) -> None:
        """Show every final answer in its column, then the table and the note."""
        if self.columns is None:
            return
        for view, answer in zip(self.columns.views, result, strict=False):
            if isinstance(view, WidgetAnswerView):
                settle_view(view, answer)
        self.table.value = (f"{result._repr_html_()}"
                            f"<div class='dbchat-role'><small>{escape(COMPARE_NOTE)}</small></div>")

    def release(self) -> None:
        """Close this turn's widgets; question and results stay."""
        if self.widget is not None:
            if self.columns is not None:
                for view in self.columns.views:
                    if isinstance(view, WidgetAnswerView):
                        view.close()
            close_tree(self.widget)
            self.widget = self.columns = self.table = None

    def transcript(self) -> TranscriptTurn:
        """This turn for the plain transcript (the columns and the table)."""
        return TranscriptTurn(self.question, self.endpoint, None, compare=self.result)
