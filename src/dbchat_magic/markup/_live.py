"""Re-render a growing Markdown answer cheaply: finished blocks are rendered once and kept.

Rendering costs time in proportion to the text (bench/RESULTS.md, "Sanitizer"), so re-rendering a
long answer ten times a second would eat the kernel. While an answer streams, text only grows; a
block that ended (a blank line, then a new top-level block that no later text can join) renders the
same whatever follows, so only the text after the last such boundary is rendered again. Each part
is sanitized on its own (safe concatenated). The final render of a finished answer is the whole
text (`markdown_html`).
"""

from __future__ import annotations

import re

from dbchat_magic.markup._render import markdown_html

WHOLE_BELOW = 4000
"""Texts shorter than this are simply rendered whole (a few ms)."""
LONG_TAIL = 16_000
"""Past this many characters without a block boundary, a line start is taken as one (live only)."""
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,}|\${2})")
_JOINS = re.compile(r"[-*+>|]|\d{1,9}[.)]")  # a list item, quote or table row may join the block


def _boundaries(text: str, start: int) -> tuple[int, int]:
    """The last offsets ≥ ``start`` where a finished top-level block ends, and where any line
    outside a fence starts (each ``start`` if none).

    ``text[start:]`` is scanned from outside any fence (``start`` is 0 or an earlier boundary).
    """
    fence = ""
    last = line_start = start
    blank = False
    pos = start
    for line in text[start:].split("\n")[:-1]:  # the last line may still grow: never a boundary
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                    and not line[opened.end():].strip(" \t" + fence[0]):
                fence = ""
        elif opened:
            fence = opened.group(1)
        elif line[:1] not in ("", " ", "\t") and not _JOINS.match(line):
            line_start = pos
            if blank:
                last = pos
        blank = not fence and not line.strip()
        pos += len(line) + 1
    return last, line_start


class LiveMarkdown:
    """Renders successive versions of one streaming text; each call returns the full HTML."""

    def __init__(self) -> None:
        self._source = ""
        self._html = ""

    @property
    def kept(self) -> int:
        """How many leading characters are rendered once and kept (not rendered again)."""
        return len(self._source)

    def render(self, text: str) -> str:
        """Safe HTML for ``text``; reuses the rendered blocks when ``text`` extends the last one.

        A tail longer than `LONG_TAIL` with no block boundary (one huge paragraph) is cut at a
        line start instead: the live view may then break that paragraph differently until the
        final render, but a tick never re-renders more than about `LONG_TAIL` characters.
        """
        if len(text) < WHOLE_BELOW:
            return markdown_html(text)
        if not text.startswith(self._source):
            self._source, self._html = "", ""
        cut, line_start = _boundaries(text, len(self._source))
        if len(text) - cut > LONG_TAIL:
            cut = max(cut, line_start)
        if cut > len(self._source):
            self._html += markdown_html(text[len(self._source):cut])
            self._source = text[:cut]
        return self._html + markdown_html(text[cut:])
