"""A live answer view without widgets: one output updated in place (by display id) as it streams.

For kernels whose widgets the front end cannot show (an ipywidgets 7 kernel under JupyterLab 4,
`_environment.widgets_choice`) or that have no ipywidgets. Every outside string reaches HTML only
through `dbchat_magic.markup`. Updates may come from any thread: an update by display id lands on
its own output whichever cell is running.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from dbchat_magic.markup import LiveMarkdown, clean_text, escape
from dbchat_magic.result import ChatResult
from dbchat_magic.ui._metrics_format import format_status
from dbchat_magic.ui._settled import SettledLine, answer_html, settled_outputs
from dbchat_magic.ui._throttle import DEFAULT_INTERVAL, Coalescer

STOP_HINT = "press ■ (interrupt the kernel) to stop"
PLAIN = "<dbchat answer>"
"""The live output's text/plain once settled: the same as the widget view's (nbval compares it)."""
_noted: set[str] = set()
"""Notes already shown in this kernel (each is said once)."""


class DisplayAnswerView:
    """Status line and answer in one plain output, re-rendered at most ~7 times a second."""

    def __init__(self, *, endpoint: str, hint: bool = True, note: str | None = None,
                 interval: float = DEFAULT_INTERVAL) -> None:
        self.endpoint = endpoint
        self.hint = hint
        self.note = note
        self._result = ChatResult(endpoint=endpoint)
        self._lock = threading.RLock()
        self._finished = False
        self._handle: Any = None
        self._note_html = ""
        self._live = LiveMarkdown()
        self._throttle = Coalescer(self._render, interval, lock=self._lock)

    def show(self) -> None:
        """Display the live output, with the note above it (once per kernel; it stays there)."""
        from IPython.display import display

        if self.note and self.note not in _noted:
            _noted.add(self.note)
            self._note_html = SettledLine(self.note).as_html()
        # Displayed as the widget view's output is saved (nbval compares it; updates by display
        # id it does not see), then at once updated to the live status.
        self._handle = display({"text/plain": PLAIN, "text/html": ""}, raw=True,
                               display_id=True)
        self._handle.update(self._bundle(self._result, 0.0), raw=True)

    def update(self, result: ChatResult) -> None:
        """Remember ``result`` and ask for a (coalesced) render; safe from any thread."""
        if self._finished:
            return
        self._result = result
        self._throttle.request()

    def finish(self, result: ChatResult, *, settle: bool = True, outcome: bool = True) -> None:
        """``settle``: the live output keeps only the note (the settled outputs follow); else it
        shows them."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._throttle.close()
            if self._handle is None:
                return
            settled = {"text/plain": PLAIN, "text/html": self._note_html}
            if not settle:
                joined = _joined(settled_outputs(result))
                settled = {"text/plain": joined["text/plain"],
                           "text/html": self._note_html + joined["text/html"]}
            self._handle.update(settled, raw=True)

    def settled_outputs(self, result: ChatResult) -> list[Any]:
        """Markdown answer, spec bundles, the outcome line (when not completed), the metrics."""
        return settled_outputs(result)

    def retire(self) -> None:
        """Nothing to close: a display output has no widgets."""

    @property
    def renders(self) -> int:
        """How many throttled renders ran (for tests)."""
        return self._throttle.renders

    def _render(self) -> None:
        with self._lock:
            if self._finished or self._handle is None:
                return
            result = self._result
            self._handle.update(self._bundle(result, time.time() - result.metrics.started_at),
                                raw=True)

    def _bundle(self, result: ChatResult, elapsed: float) -> dict[str, str]:
        status = format_status(result, elapsed)
        hint = f" · {STOP_HINT}" if self.hint else ""
        body = answer_html(result.text, live=self._live) if result.text else ""
        return {"text/html": f"{self._note_html}<div><small>{escape(status + hint)}</small></div>"
                             f"{body}",
                "text/plain": clean_text(f"{status}{hint}\n{result.text}".rstrip())}


def _joined(items: list[Any]) -> dict[str, str]:
    """Settled outputs as one output (each item's HTML is already safe)."""
    parts = [item.as_html() for item in items if callable(getattr(item, "as_html", None))]
    texts = [str(item._repr_mimebundle_().get("text/plain") or "") for item in items]
    return {"text/html": "\n".join(f"<div>{part}</div>" for part in parts if part),
            "text/plain": "\n\n".join(t for t in texts if t)}
