"""Helpers for the UI tests: record the comm messages widgets send (no frontend needed)."""

from __future__ import annotations

import threading
import time
from typing import Any


def walk(widget: Any) -> list[Any]:
    """The widget and all its descendants (Box children, Accordion children)."""
    found = [widget]
    for child in getattr(widget, "children", ()) or ():
        found.extend(walk(child))
    return found


class CommRecorder:
    """Wraps ``comm.send`` of every widget under a root; records (time, widget, data)."""

    def __init__(self, root: Any) -> None:
        self.messages: list[tuple[float, Any, dict[str, Any]]] = []
        self._lock = threading.Lock()
        for widget in walk(root):
            self._wrap(widget)

    def _wrap(self, widget: Any) -> None:
        comm = widget.comm
        original = comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            with self._lock:
                self.messages.append((time.monotonic(), widget, data or {}))
            original(data=data, metadata=metadata, buffers=buffers)

        comm.send = send

    def for_widget(self, widget: Any) -> list[dict[str, Any]]:
        """State-update payloads sent for one widget."""
        return [data for _, w, data in self.messages if w is widget]

    def max_per_second(self, widget: Any | None = None) -> int:
        """The largest number of messages in any sliding one-second window."""
        times = sorted(t for t, w, _ in self.messages if widget is None or w is widget)
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


def all_state(root: Any) -> str:
    """Every synced trait of every widget under ``root``, as one string (for leak checks)."""
    return repr([w.get_state() for w in walk(root)])
