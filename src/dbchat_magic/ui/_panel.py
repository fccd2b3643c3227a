"""`ChatPanel`: a chat UI in one widget — history, input, Send/Stop, per-answer metrics, settings.

Questions run in the background on the package's runner loop, so the panel's Stop works on every
kernel and other cells can run while an answer streams. Each panel has its own conversation.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from dbchat_magic.errors import DbChatError
from dbchat_magic.markup import escape
from dbchat_magic.result import ChatResult
from dbchat_magic.ui._answer_view import WidgetAnswerView
from dbchat_magic.ui._error_hints import explain_error
from dbchat_magic.ui._widget_lifetime import close_tree

if TYPE_CHECKING:
    from dbchat_magic.config import Settings
    from dbchat_magic.session import AskHandle, Session

DEFAULT_VISIBLE_TURNS = 5
_panel_numbers = itertools.count(1)


@cache
def _panel_box() -> type:
    import ipywidgets

    class PanelBox(ipywidgets.VBox):  # type: ignore[misc]
        """Root widget of a `ChatPanel` with a stable text/plain repr."""

        def __repr__(self) -> str:
            return "<dbchat panel>"

    return PanelBox


class PanelTurn:
    """One question and its live answer view inside the panel."""

    def __init__(self, question: str, endpoint: str) -> None:
        import ipywidgets as w

        self.question = question
        self.endpoint = endpoint
        self.view: WidgetAnswerView | None = WidgetAnswerView(endpoint=endpoint, on_stop=None,
                                                               stop_mode="none")
        self.result: ChatResult | None = None
        self.widget = w.VBox([w.HTML(f"<b>You:</b> {escape(question)}"), self.view.widget])

    def release(self) -> None:
        """Close this turn's widgets (it left the visible window); question and result stay."""
        if self.widget is not None:
            close_tree(self.widget)
            self.view = self.widget = None

    def restore(self) -> None:
        """Build the widgets again (the turn is shown again), showing the finished answer."""
        if self.widget is None:
            fresh = PanelTurn(self.question, self.endpoint)
            self.view, self.widget = fresh.view, fresh.widget
            if self.result is not None and self.view is not None:
                self.view.finish(self.result, settle=False)


class ChatPanel:
    """``ChatPanel()`` shows a chat; ``panel.ask(text)`` + ``panel.wait()`` drive it from code.

    ``visible_turns`` answers are shown; older ones sit behind a "show earlier" button.
    ``session`` defaults to a fresh conversation of its own; ``settings`` (a provider) defaults to
    the settings file, which the settings row also writes.
    """

    def __init__(self, *, session: Session | None = None,
                 settings: Callable[[], Settings] | None = None,
                 namespace: Mapping[str, Any] | None = None,
                 visible_turns: int = DEFAULT_VISIBLE_TURNS, list_endpoints: bool = True) -> None:
        import ipywidgets as w

        from dbchat_magic.ui._settings_row import SettingsRow

        if session is None:
            from dbchat_magic.conversation import Conversation
            from dbchat_magic.session import Session

            session = Session(Conversation(f"panel-{next(_panel_numbers)}"), settings)
        self.session = session
        self._namespace = namespace
        self.visible_turns = max(1, visible_turns)
        self._shown_from = 0
        self.turns: list[PanelTurn] = []
        self._handle: AskHandle | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.RLock()
        self.settings = SettingsRow(settings=settings)
        self.earlier = w.Button(description="show earlier", icon="chevron-up")
        self.earlier.on_click(lambda _b: self.show_earlier())
        self.history = w.VBox([])
        self.input = w.Textarea(placeholder="Ask about your data…", rows=3,
                                layout=w.Layout(width="60%"), _dom_classes=("dbchat-question",))
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane",
                                    _dom_classes=("dbchat-send",))
        self.send_button.on_click(lambda _b: self._send_clicked())
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="warning",
                                    disabled=True, _dom_classes=("dbchat-stop",))
        self.stop_button.on_click(lambda _b: self.stop())
        self.note = w.HTML()
        controls = w.HBox([self.input, w.VBox([self.send_button, self.stop_button])])
        self.widget = _panel_box()([self.settings.widget, self.history, controls, self.note])
        self._refresh_history()
        if list_endpoints:
            self.settings.load_endpoints()

    # -- display -------------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return "<dbchat panel>"

    # -- asking --------------------------------------------------------------------------------
    def ask(self, question: str) -> AskHandle | None:
        """Ask ``question`` as if typed and sent; returns the running handle (None if refused)."""
        question = question.strip()
        if not question:
            self._say("type a question first")
            return None
        with self._lock:
            if not self._idle.is_set():
                self._say("an answer is still streaming: wait for it or press Stop")
                return None
            try:
                prepared = self.session.prepare(question, None, self._user_namespace())
            except DbChatError as exc:
                self._say(explain_error(str(exc)), error=True)
                return None
            turn = PanelTurn(prepared.question, prepared.endpoint)  # credentials redacted
            self.turns.append(turn)
            self._idle.clear()
            self._set_running(True)
            self._say("")
            self._refresh_history()
            try:
                handle = self.session.start(prepared, self._user_namespace(),
                                            on_update=turn.view.update,
                                            on_done=lambda r: self._answer_done(turn, r))
            except DbChatError as exc:
                from dbchat_magic.client import end_result

                failed = end_result(ChatResult(endpoint=prepared.endpoint), "failed",
                                    error=str(exc), kind=exc.kind)
                self._answer_done(turn, failed)
                return None
            self._handle = handle
            return handle

    def wait(self, timeout: float | None = 120.0) -> ChatResult | None:
        """Block until the current answer has ended and is rendered; its result (None if none)."""
        if not self._idle.wait(timeout):
            raise TimeoutError(f"the answer did not end within {timeout} s")
        return self.turns[-1].result if self.turns else None

    def stop(self) -> None:
        """Stop the streaming answer (keeps its partial text)."""
        handle = self._handle
        if handle is None or self._idle.is_set():
            return
        self.stop_button.disabled = True
        handle.cancel()  # the session's on_done settles the turn, even if its task never ran

    def close(self) -> None:
        """Stop any answer and close every widget of the panel (it shows nothing afterwards)."""
        self.stop()
        with self._lock:
            for turn in self.turns:
                turn.release()
            close_tree(self.widget)
            close_tree(self.earlier)  # not a child while nothing is hidden

    @property
    def results(self) -> list[ChatResult]:
        """Results of the finished answers, oldest first."""
        return [t.result for t in self.turns if t.result is not None]

    def show_earlier(self) -> None:
        """Reveal up to ``visible_turns`` more of the older answers."""
        with self._lock:
            self._shown_from = max(0, self._shown_from - self.visible_turns)
            self._refresh_history(keep_from=True)

    # -- internals -----------------------------------------------------------------------------
    def _send_clicked(self) -> None:
        try:
            asked = self.ask(self.input.value)
        except Exception as exc:  # a click handler must not raise into the kernel's comm handler
            self._say(f"could not ask: {type(exc).__name__}: {exc}", error=True)
            return
        if asked is not None:
            self.input.value = ""

    def _answer_done(self, turn: PanelTurn, result: ChatResult) -> None:
        with self._lock:
            if turn.result is not None:  # settled once only
                return
            turn.result = result
            view = turn.view
        if view is not None:  # None: the turn left the window (it is rebuilt from its result)
            view.finish(result, settle=False)
        with self._lock:
            self._handle = None
            self._set_running(False)
            self._idle.set()

    def _set_running(self, running: bool) -> None:
        self.send_button.disabled = running
        self.stop_button.disabled = not running

    def _refresh_history(self, *, keep_from: bool = False) -> None:
        if not keep_from:
            self._shown_from = max(0, len(self.turns) - self.visible_turns)
        hidden = self._shown_from
        self.earlier.description = f"show {min(hidden, self.visible_turns)} earlier of {hidden}"
        for turn in self.turns[hidden:]:
            turn.restore()
        shown = [t.widget for t in self.turns[hidden:]]
        self.history.children = ([self.earlier] if hidden else []) + shown
        for turn in self.turns[:hidden]:  # hidden turns keep no live widgets, only their data
            turn.release()

    def _user_namespace(self) -> Mapping[str, Any]:
        if self._namespace is not None:
            return self._namespace
        from dbchat_magic.ui._environment import shell

        return getattr(shell(), "user_ns", None) or {}

    def _say(self, text: str, *, error: bool = False) -> None:
        style = "color:#b00020" if error else "color:#666"
        self.note.value = f"<small style='{style}'>{escape(text)}</small>" if text else ""
