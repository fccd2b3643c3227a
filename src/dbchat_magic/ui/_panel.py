"""`ChatPanel`: a chat in one widget — a scrolling history of bubbles, a question box, Send/Stop,
per-answer metrics, settings behind ⚙ — plus a plain transcript output that survives a reload.

Questions run in the background on the package's runner loop, so the panel's Stop works on every
kernel and other cells can run while an answer streams. Each panel has its own conversation unless
it is given a conversation name (then it shows that conversation's earlier turns, from the history
log after a kernel restart). In compare mode (⚙ "compare with") a question goes to several
endpoints at once, one column each (`ui._panel_turn.PanelCompareTurn`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from dbchat_magic.errors import DbChatError
from dbchat_magic.markup import escape
from dbchat_magic.result import ChatResult
from dbchat_magic.ui._answer_view import WIDGET_VIEW
from dbchat_magic.ui._chat_input import ChatInput
from dbchat_magic.ui._error_hints import explain_error
from dbchat_magic.ui._panel_session import opening_note, session_for
from dbchat_magic.ui._panel_style import PANEL_CSS
from dbchat_magic.ui._panel_turn import PanelCompareTurn, PanelTurn
from dbchat_magic.ui._transcript import transcript_bundle
from dbchat_magic.ui._widget_lifetime import close_tree

if TYPE_CHECKING:
    from dbchat_magic.config import Settings
    from dbchat_magic.session import AskHandle, CompareResult, CompareRun, Session

AnyTurn = PanelTurn | PanelCompareTurn

DEFAULT_VISIBLE_TURNS = 5
HISTORY_HEIGHT = "28em"
"""The history's starting height; the user can drag its corner to resize it."""


@cache
def _panel_box() -> type:
    import ipywidgets

    class PanelBox(ipywidgets.VBox):
        """Root widget of a `ChatPanel` with a stable text/plain repr."""

        def __repr__(self) -> str:
            return "<dbchat panel>"

    return PanelBox


def _ignore(_result: ChatResult) -> None:
    """An update for a turn whose widgets are gone."""


class ChatPanel:
    """``ChatPanel()`` shows a chat; ``panel.ask(text)`` + ``panel.wait()`` drive it from code.

    ``visible_turns`` answers are shown; older ones sit behind a "show earlier" button.
    ``session`` defaults to a fresh conversation of its own — or, with ``conversation="name"``, to
    that named conversation, whose earlier turns the panel shows (restored from the history log
    when the conversation is new in this kernel, e.g. after a restart). ``settings`` (a provider)
    defaults to the settings file, which the settings (⚙) also write. ``transcript`` keeps the
    plain transcript output below the panel (default: yes, except on Databricks, whose notebook
    shows each HTML output in its own frame where the rule hiding it beside the panel cannot act).
    """

    def __init__(self, *, session: Session | None = None,
                 settings: Callable[[], Settings] | None = None,
                 namespace: Mapping[str, Any] | None = None,
                 visible_turns: int = DEFAULT_VISIBLE_TURNS, list_endpoints: bool = True,
                 conversation: str | None = None, transcript: bool | None = None) -> None:
        from dbchat_magic.ui import _environment as environment
        from dbchat_magic.ui._settings_row import SettingsRow

        self.session = session or session_for(conversation, settings)
        self._namespace = namespace
        self.visible_turns = max(1, visible_turns)
        self._shown_from = 0
        self.turns: list[AnyTurn] = [
            PanelTurn(t.question, t.result.endpoint, t.result, build=False)
            for t in self.session.conversation.turns]
        self._handle: AskHandle | CompareRun | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.RLock()
        self._transcript_id = f"dbchat-transcript-{uuid.uuid4().hex}"
        self._transcript_shown = False
        self.keep_transcript = (not environment.on_databricks() if transcript is None
                                else transcript)
        self.settings = SettingsRow(settings=settings)
        self.settings.on_compare = self._compare_chosen
        self.chat_input = ChatInput(self._send_text)
        self._build_widgets()
        self._refresh_history()
        self._say(opening_note(self.session, self.turns,
                               named=bool(conversation) or session is not None))
        if list_endpoints:
            self.settings.load_endpoints()

    def _build_widgets(self) -> None:
        import ipywidgets as w

        self.earlier = w.Button(description="show earlier", icon="chevron-up",
                                layout=w.Layout(width="auto"), _dom_classes=("dbchat-earlier",))
        self.earlier.on_click(lambda _b: self.show_earlier())
        self.history = w.VBox([], _dom_classes=("dbchat-history",))
        # column-reverse: the browser keeps the bottom (the newest message) in view as it grows
        self.history_frame = w.Box([self.history], _dom_classes=("dbchat-history-frame",),
                                   layout=w.Layout(height=HISTORY_HEIGHT, overflow="auto",
                                                   flex_flow="column-reverse", width="100%"))
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane",
                                    layout=w.Layout(width="auto"), _dom_classes=("dbchat-send",))
        self.send_button.on_click(lambda _b: self._send_clicked())
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="warning",
                                    disabled=True, layout=w.Layout(width="auto"),
                                    _dom_classes=("dbchat-stop",))
        self.stop_button.on_click(lambda _b: self.stop())
        self.settings_toggle = w.ToggleButton(value=False, description="⚙", tooltip="Settings",
                                              layout=w.Layout(width="auto"),
                                              _dom_classes=("dbchat-settings-toggle",))
        self.settings_toggle.observe(lambda c: self._fold_settings(not c["new"]), names="value")
        self.settings.widget.add_class("dbchat-settings")
        self._fold_settings(True)
        self.note = w.HTML(_dom_classes=("dbchat-note",))
        chat = self.chat_input
        row = w.HBox([chat.slot, self.send_button, self.stop_button, chat.several,
                      self.settings_toggle], _dom_classes=("dbchat-row",),
                     layout=w.Layout(width="100%", flex_flow="row wrap"))
        style = w.HTML(f"<style>{PANEL_CSS}</style>", layout=w.Layout(display="none"))
        self.widget = _panel_box()([style, self.history_frame, row, self.settings.widget,
                                    chat.help, self.note], _dom_classes=("dbchat-panel",),
                                   layout=w.Layout(width="100%"))

    @property
    def input(self) -> Any:
        """The question box in use (one line, or several lines after ¶)."""
        return self.chat_input.box

    # -- display -------------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        """The live panel, and below it the plain transcript a saved notebook keeps."""
        from IPython.display import display

        # text/html "": where widgets cannot render (an untrusted or static view) the safe empty
        # HTML is shown instead of "<dbchat panel>"; the transcript below holds the conversation.
        display({"text/plain": repr(self.widget), "text/html": "", WIDGET_VIEW: {
            "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id}}, raw=True)
        if self.keep_transcript:
            display(self._transcript_bundle(), raw=True, display_id=self._transcript_id)
            self._transcript_shown = True

    def __repr__(self) -> str:
        return "<dbchat panel>"

    def transcript(self) -> dict[str, Any]:
        """The conversation as the panel's plain output shows it (text/html + text/plain)."""
        return self._transcript_bundle()

    # -- asking --------------------------------------------------------------------------------
    def ask(self, question: str) -> AskHandle | CompareRun | None:
        """Ask ``question`` as if typed and sent; returns the running handle (in compare mode the
        `CompareRun` of every endpoint picked; None if refused)."""
        question = question.strip()
        if not question:
            self._say("type a question first")
            return None
        with self._lock:
            if not self._idle.is_set():
                self._say("an answer is still streaming: wait for it or press Stop")
                return None
            targets = self.settings.compare_targets()
            if targets:
                return self._ask_compare(question, targets)
            try:
                prepared = self.session.prepare(question, None, self._user_namespace())
            except DbChatError as exc:
                self._say(explain_error(exc), error=True)
                return None
            turn = PanelTurn(prepared.question, prepared.endpoint)  # credentials redacted
            self._begin(turn)
            view = turn.view
            try:
                handle = self.session.start(prepared, self._user_namespace(),
                                            on_update=view.update if view else None,
                                            on_done=lambda r: self._answer_done(turn, r))
            except DbChatError as exc:
                from dbchat_magic.client import end_result

                failed = end_result(ChatResult(endpoint=prepared.endpoint), "failed",
                                    error=exc)
                self._answer_done(turn, failed)
                return None
            self._handle = handle
            return handle

    def _ask_compare(self, question: str, targets: list[str]) -> CompareRun | None:
        """Compare mode: the same composed prompt to every target at once, one column each
        (`session.start_compare`); the answers stay out of the conversation. Lock held."""
        from dbchat_magic.session import (
            MAX_TARGETS,
            AskOptions,
            prepare_compare,
            start_compare,
            targets_ok,
        )

        if not targets_ok(targets):
            self._say(f"compare takes 2 to {MAX_TARGETS} different endpoints (with the current "
                      f"one): {len(targets)} picked in ⚙ “compare with”", error=True)
            return None
        namespace = self._user_namespace()
        try:
            prepared = prepare_compare(self.session, question, targets, AskOptions(), namespace)
        except DbChatError as exc:
            self._say(explain_error(exc), error=True)
            return None
        turn = PanelCompareTurn(prepared[0].question, [p.endpoint for p in prepared])
        self._begin(turn)
        try:
            run = start_compare(self.session, prepared, namespace, on_update=turn.update,
                                on_done=lambda r: self._answer_done(turn, r))
        except DbChatError as exc:  # e.g. no credentials for one of them: nothing was answered
            self.turns.remove(turn)
            turn.release()
            self._refresh_history()
            self._end_turn()
            self._say(explain_error(exc), error=True)
            return None
        turn.start()
        self._handle = run
        return run

    def _begin(self, turn: AnyTurn) -> None:
        """Show a new turn and go into the running state (lock held)."""
        self.turns.append(turn)
        self._idle.clear()
        self._set_running(True)
        self._say("")
        self._refresh_history()
        self._update_transcript()

    def wait(self, timeout: float | None = 120.0) -> ChatResult | CompareResult | None:
        """Block until the current answer has ended and is rendered; its result (a
        `CompareResult` for a compare turn; None if none)."""
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
        """Stop any answer and close every widget of the panel (the transcript output stays)."""
        self.stop()
        with self._lock:
            for turn in self.turns:
                turn.release()
            close_tree(self.widget)
            close_tree(self.earlier)  # not a child while nothing is hidden
            for widget in self.chat_input.widgets:  # the box not in use is in no tree
                close_tree(widget)

    @property
    def results(self) -> list[ChatResult]:
        """Results of the finished answers, oldest first (a compare turn's, one per column)."""
        out: list[ChatResult] = []
        for turn in self.turns:
            if isinstance(turn, PanelCompareTurn):
                out.extend(turn.result or ())
            elif turn.result is not None:
                out.append(turn.result)
        return out

    def show_earlier(self) -> None:
        """Reveal up to ``visible_turns`` more of the older answers."""
        with self._lock:
            self._shown_from = max(0, self._shown_from - self.visible_turns)
            self._refresh_history(keep_from=True)

    # -- internals -----------------------------------------------------------------------------
    def _send_clicked(self) -> None:
        self.chat_input.send()

    def _send_text(self, text: str) -> bool:
        """Ask ``text`` (Enter or Send); True when it was asked (the box is then emptied)."""
        try:
            return self.ask(text) is not None
        except Exception as exc:  # a comm handler must not raise into the kernel
            self._say(f"could not ask: {type(exc).__name__}: {exc}", error=True)
            return False

    def _fold_settings(self, folded: bool) -> None:
        self.settings.widget.layout.display = "none" if folded else None

    def _answer_done(self, turn: AnyTurn, result: Any) -> None:
        """The answer ended (a `ChatResult`; for a compare turn, every answer: `CompareResult`)."""
        with self._lock:
            if turn.result is not None:  # settled once only
                return
            turn.result = result
        turn.settle(result)  # no view: the turn left the window (it is rebuilt from its result)
        with self._lock:
            self._update_transcript()
            self._end_turn()

    def _end_turn(self) -> None:
        self._handle = None
        self._set_running(False)
        self._idle.set()

    def _compare_chosen(self, targets: list[str]) -> None:
        """The Send button says when a question goes to several endpoints."""
        self.send_button.description = f"Send to {len(targets)}" if targets else "Send"
        self.send_button.tooltip = ("compare: " + ", ".join(targets)) if targets else ""

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

    def _transcript_bundle(self) -> dict[str, Any]:
        title = f"dbchat conversation {self.session.conversation.name}"
        return transcript_bundle([t.transcript() for t in self.turns], title)

    def _update_transcript(self) -> None:
        """Refresh the plain transcript output (only once the panel has been displayed)."""
        if not self._transcript_shown:
            return
        from IPython.display import update_display

        try:
            update_display(self._transcript_bundle(), raw=True, display_id=self._transcript_id)
        except Exception as exc:  # never lose the answer over its saved copy
            self._say(f"transcript not updated: {type(exc).__name__}", error=True)

    def _user_namespace(self) -> Mapping[str, Any]:
        if self._namespace is not None:
            return self._namespace
        from dbchat_magic.ui._environment import shell

        return getattr(shell(), "user_ns", None) or {}

    def _say(self, text: str, *, error: bool = False) -> None:
        style = "color:#b00020" if error else "color:#666"
        self.note.value = f"<small style='{style}'>{escape(text)}</small>" if text else ""
