"""Plain-text answer view for terminal IPython and plain Python: print only the new text.

Everything printed is cleaned of escape sequences and control characters (`markup.clean_text`).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from dbchat_magic.markup import clean_text
from dbchat_magic.result import ChatResult
from dbchat_magic.ui._metrics_format import format_metrics
from dbchat_magic.ui._settled import SpecOutput, spec_outputs, status_line, step_outputs


class TextAnswerView:
    """Writes each new piece of the answer once; `finish` adds the status and metrics lines.

    Reasoning is not streamed (it would interleave with the answer); its length is noted at the end.
    Inside a Jupyter kernel, output printed from another thread lands in the wrong cell
    (docs/design.md: Stop), so there only calls from the thread that made the view write; calls
    from other threads are skipped and the next call from that thread (the magic's tick, or
    `finish`) catches up.
    """

    def __init__(self, *, endpoint: str, stream: TextIO | None = None,
                 any_thread: bool | None = None) -> None:
        from dbchat_magic.ui._environment import in_kernel

        self.endpoint = endpoint
        self._stream = stream
        self._lock = threading.Lock()
        self._written = ""
        self._finished = False
        self._owner = threading.get_ident()
        self._any_thread = (stream is not None or not in_kernel()) if any_thread is None \
            else any_thread

    @property
    def out(self) -> TextIO:
        """The stream written to (stdout at call time unless one was given)."""
        return self._stream or sys.stdout

    def show(self) -> None:
        """Nothing to show before the first token (the text view has no status widget)."""

    def update(self, result: ChatResult) -> None:
        """Write the text that arrived since the last call (thread-safe)."""
        with self._lock:
            if self._finished:
                return
            if self._any_thread or threading.get_ident() == self._owner:
                self._write_new(result.text)

    def finish(self, result: ChatResult, *, settle: bool = True, outcome: bool = True) -> None:
        """Write the rest of the answer, then the outcome line (if not completed and ``outcome``:
        not when the cell's error says it) and the metrics."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._write_new(result.text)
            lines: list[str] = []
            if result.reasoning:
                lines.append(f"(reasoning: {len(result.reasoning)} chars, see result.reasoning)")
            lines.extend(repr(item) for item in step_outputs(result))
            for item in spec_outputs(result):
                if not isinstance(item, SpecOutput):
                    lines.append(repr(item))
            line = status_line(result) if outcome else ""
            if line:
                lines.append(line)
            metrics = format_metrics(result)
            if metrics:
                lines.append(metrics)
            end = "" if not self._written or self._written.endswith("\n") else "\n"
            self.out.write(end + "".join(f"{clean_text(text)}\n" for text in lines))
            self.out.flush()

    def settled_outputs(self, result: ChatResult) -> list[Any]:
        """Only the rendered specs (charts/tables): the text and metrics were already printed."""
        return [item for item in spec_outputs(result) if isinstance(item, SpecOutput)]

    def retire(self) -> None:
        """Nothing to close: printed text stays where it is."""

    def _write_new(self, text: str) -> None:
        # If the text was rewritten upstream (not a continuation), print only the part past what we
        # already printed rather than repeating it.
        new = text[len(self._written):]
        if new:  # outside text: no escape sequence reaches the terminal (OSC 52, fake links)
            self.out.write(clean_text(new))
            self.out.flush()
        if len(text) >= len(self._written):
            self._written = text
