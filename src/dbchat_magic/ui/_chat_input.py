"""The panel's question box: one line where Enter sends, or several lines (¶) where Send sends.

Core ipywidgets cannot bind keys, but a ``Text`` box sends a ``{"event": "submit"}`` message when
Enter is pressed (ipywidgets 7 and 8; ``on_submit`` is only deprecated on 8, the message is not).
A ``Textarea`` keeps Enter for new lines, so the several-lines mode sends with the Send button.

Both boxes sync their value only when it is committed (``continuous_update=False``: on Enter and on
leaving the box). On Enter the browser sends the submit message first and the committed value right
behind it, so a submit arms the box and the value that follows is sent. When no value follows (the
box already held that text: it was committed when the user left the box), the text the kernel has
is sent after `ENTER_GRACE` seconds. Leaving the box alone never sends anything.

A click on Send also overtakes the value (ipywidgets holds a model's state update back while an
earlier one awaits the kernel, but sends custom messages such as clicks at once; a busy kernel
makes that common). So a Send on a box the kernel still sees empty waits up to `VALUE_WAIT`
seconds for its value before "type a question first".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

ENTER_GRACE = 0.5
"""Seconds a submit waits for its value update before sending the text the kernel already has
(the update travels right behind the submit; it only never comes when the text did not change)."""
VALUE_WAIT = 10.0
"""Seconds a Send on a box the kernel still sees empty waits for the value behind the click."""
ONE_LINE_HELP = "Enter sends · ¶ for several lines · ⚙ settings"
SEVERAL_LINES_HELP = "Enter makes a new line · Send sends · ¶ back to one line (Enter sends)"


class ChatInput:
    """A full-width question box with a ¶ toggle between one line and several lines.

    ``on_send(text)`` is called with the question (Enter, or `send`); when it returns True the box
    is emptied, otherwise the text stays for the user to fix or resend.
    """

    def __init__(self, on_send: Callable[[str], bool]) -> None:
        import ipywidgets as w

        self._on_send = on_send
        self._lock = threading.Lock()
        self._armed = 0  # submits waiting for their value update (0 or 1 in practice)
        self._waiting: Any = None  # the box whose empty Send waits for its value
        grow = {"flex": "1 1 16em", "width": "auto", "min_width": "10em"}
        self.line = w.Text(placeholder="Ask about your data… (Enter sends)",
                           continuous_update=False, layout=w.Layout(**grow),
                           _dom_classes=("dbchat-question", "dbchat-question-line"))
        self.lines = w.Textarea(placeholder="Ask about your data… (Send sends)", rows=4,
                                continuous_update=False, layout=w.Layout(**grow),
                                _dom_classes=("dbchat-question", "dbchat-question-lines"))
        self.several = w.ToggleButton(value=False, description="¶",
                                      tooltip="Several lines: Enter makes a new line, Send sends",
                                      layout=w.Layout(width="auto"),
                                      _dom_classes=("dbchat-several-lines",))
        self.help = w.HTML(value=f"<small>{ONE_LINE_HELP}</small>", _dom_classes=("dbchat-help",))
        self.slot = w.Box([self.line], layout=w.Layout(flex="1 1 16em", min_width="10em"))
        self.line.on_msg(self._message)
        self.line.observe(self._committed, names="value")
        self.lines.observe(self._committed, names="value")
        self.several.observe(self._toggled, names="value")

    @property
    def box(self) -> Any:
        """The box in use: the one-line ``Text`` or the several-lines ``Textarea``."""
        return self.lines if self.several.value else self.line

    @property
    def widgets(self) -> list[Any]:
        """Every widget this input owns (the unused box is not in any tree: close it too)."""
        return [self.slot, self.line, self.lines, self.several, self.help]

    def send(self) -> None:
        """Send the text of the box in use (the Send button); an empty box waits for its value."""
        box = self.box
        if box.value.strip():
            self._deliver(box)
            return
        with self._lock:
            self._waiting = box
        self._after(VALUE_WAIT, self._wait_over, box)

    # -- internals -----------------------------------------------------------------------------
    def _message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("event") != "submit":
            return
        with self._lock:
            self._armed += 1
        self._after(ENTER_GRACE, self._grace_over)

    @staticmethod
    def _after(seconds: float, then: Callable[..., None], *args: Any) -> None:
        timer = threading.Timer(seconds, then, args)
        timer.daemon = True
        timer.start()

    def _committed(self, change: dict[str, Any]) -> None:
        box, filled = change["owner"], bool(str(change["new"]).strip())
        with self._lock:
            armed = 0
            if box is self.line:
                armed, self._armed = self._armed, 0
            waiting = self._waiting is box
            if waiting:
                self._waiting = None
        if waiting or (filled and armed):  # an empty value behind Send: "type a question first"
            self._deliver(box)

    def _grace_over(self) -> None:
        with self._lock:
            armed, self._armed = self._armed, 0
        if armed and self.line.value.strip():
            self._deliver(self.line)

    def _wait_over(self, box: Any) -> None:
        """No value came behind the Send click: the panel says "type a question first"."""
        with self._lock:
            if self._waiting is not box:
                return
            self._waiting = None
        self._deliver(box)

    def _deliver(self, box: Any) -> None:
        text = box.value
        try:
            accepted = self._on_send(text)
        except Exception:  # a comm handler must not raise into the kernel; on_send reports
            accepted = False
        if accepted:
            box.value = ""

    def _toggled(self, change: dict[str, Any]) -> None:
        several = bool(change["new"])
        old, new = (self.line, self.lines) if several else (self.lines, self.line)
        new.value = old.value if several else old.value.replace("\n", " ")
        old.value = ""
        self.slot.children = (new,)
        self.help.value = f"<small>{SEVERAL_LINES_HELP if several else ONE_LINE_HELP}</small>"
