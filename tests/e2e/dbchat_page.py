"""What the dbchat widgets look like to a test: their selectors, and scripted answers whose
progress can be read off the page (numbered words ``w001 w002 …``).

Selectors prefer the ``dbchat-*`` CSS classes when the widgets carry them and fall back to the
visible texts (ipywidgets 8 DOM: a Button is a ``<button>``, a Dropdown a ``<select>``).
"""

from __future__ import annotations

import re

STOP_BUTTON = "button.dbchat-stop, button:has-text('Stop')"
SEND_BUTTON = "button.dbchat-send, button:has-text('Send')"
QUESTION_BOX = ".dbchat-question textarea, textarea"
ENDPOINT_SELECT = ".dbchat-endpoint select, .widget-dropdown:has(label:text-is('Endpoint')) select"
FAILED_MARK = "✗ failed"


def numbered_reply(prefix: str, count: int) -> str:
    """``"{prefix}001 {prefix}002 …"``: one simulator token per word, easy to count on screen."""
    return " ".join(f"{prefix}{i:03d}" for i in range(1, count + 1))


def words_shown(text: str, prefix: str) -> list[int]:
    """The numbers of the ``{prefix}NNN`` words visible in ``text``, in page order."""
    return [int(n) for n in re.findall(rf"\b{re.escape(prefix)}(\d{{3}})\b", text)]


def shown_count(text: str, prefix: str) -> int:
    """How many leading words of the answer are on screen (0 when none).

    Asserts that what is shown is a clean prefix ``1..N`` of the answer (no gaps, no reordering),
    ignoring repeats (the live view and the settled Markdown may both be on screen).
    """
    seen = sorted(set(words_shown(text, prefix)))
    assert seen == list(range(1, len(seen) + 1)), f"answer words out of order or missing: {seen}"
    return len(seen)
