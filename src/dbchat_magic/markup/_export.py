"""Markdown that stays readable Markdown but carries no raw HTML, image or disallowed link.

For files other programs render (the ``.md`` export). Outside fenced/indented code, every ``<``
becomes ``&lt;`` (no raw HTML or autolink survives; code spans are left as written), ``![`` becomes
``\\![`` (an image turns into a link: nothing loads by itself), and an inline link or a reference
definition whose destination is not http(s)/mailto loses its link syntax. The result is checked
with a permissive CommonMark parse (raw HTML on, every URL accepted); anything still unsafe falls
back to the whole text in a code fence.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from dbchat_magic.markup._render import allowed_url
from dbchat_magic.markup._text import clean_text

_LEAVES = frozenset({"fence", "code_block", "html_block", "hr"})
_UNSAFE_TOKENS = frozenset({"html_block", "html_inline", "image"})
_SPECIAL = re.compile(r"[\\`<!\]]")  # where neutralise_inline may have work to do
_BACKTICKS = re.compile(r"`+")
_PIPE = re.compile(r"(?<!\\)\|")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9.+-]{1,31}:[^<>\x00-\x20]*)>")
_EMAIL = re.compile(r"<([a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}"
                    r"[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*)>")
_DEFINITION = re.compile(r"^(?P<head>[ \t>]*)\[(?P<label>(?:\\.|[^\]\\])*)\]:(?P<rest>.*)$")


@cache
def _permissive() -> Any:
    """CommonMark + GFM tables/strikethrough with raw HTML on and every URL accepted: it finds
    every construct some renderer could turn into markup."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def _destination_allowed(text: str, pos: int) -> tuple[bool, int]:
    """Whether the link destination at ``text[pos:]`` is allowed, and where it ends."""
    from markdown_it.helpers import parseLinkDestination

    while pos < len(text) and text[pos] in " \t\n":
        pos += 1
    found = parseLinkDestination(text, pos, len(text))
    if not found.ok:
        return False, pos
    return allowed_url(_permissive().normalizeLink(found.str)), found.pos


def _allowed_autolink(text: str, pos: int) -> int:
    """End of an http(s)/mailto autolink or an e-mail autolink at ``pos``, else 0."""
    email = _EMAIL.match(text, pos)
    if email is not None:
        return email.end()
    link = _AUTOLINK.match(text, pos)
    if link is not None and allowed_url(_permissive().normalizeLink(link.group(1))):
        return link.end()
    return 0


class _BacktickRuns:
    """The maximal backtick runs of one text, by length, for finding a code span's closer in
    O(log n) (a text full of unmatched runs must not cost O(n²))."""

    def __init__(self, text: str) -> None:
        self.by_width: dict[int, list[int]] = {}
        for run in _BACKTICKS.finditer(text):
            self.by_width.setdefault(run.end() - run.start(), []).append(run.start())

    def span_end(self, text: str, start: int) -> int:
        """End of the code span opened by the run at ``start``, or the run's end if unclosed."""
        run = start
        while run < len(text) and text[run] == "`":
            run += 1
        starts = self.by_width.get(run - start, [])
        index = bisect.bisect_left(starts, run)
        return starts[index] + run - start if index < len(starts) else run


def neutralise_inline(text: str) -> str:
    """Inline Markdown with raw HTML/autolinks escaped, images made links, bad links unlinked."""
    out: list[str] = []
    runs = _BacktickRuns(text)
    i, n = 0, len(text)
    while i < n:
        special = _SPECIAL.search(text, i)
        if special is None:
            out.append(text[i:])
            break
        out.append(text[i:special.start()])
        i = special.start()
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(text[i:i + 2])
            i += 2
        elif ch == "`":
            end = runs.span_end(text, i)
            out.append(text[i:end])
            i = end
        elif ch == "<":
            end = _allowed_autolink(text, i)
            out.append(text[i:end] if end else "&lt;")
            i = end or i + 1
        elif ch == "!" and text.startswith("[", i + 1):
            out.append("\\!")
            i += 1
        elif ch == "]" and text.startswith("(", i + 1):
            ok, end = _destination_allowed(text, i + 2)
            out.append(text[i:end] if ok else "]\\(")
            i = end if ok else i + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _table_row(line: str) -> str:
    """A GFM table row: cells split at unescaped pipes first (as GFM does), then neutralised."""
    return "|".join(neutralise_inline(cell) for cell in _PIPE.split(line))


def _definition(line: str) -> str:
    """A line no leaf block covers (a reference definition, a table's delimiter row, a setext
    underline): a definition with a disallowed destination becomes plain text."""
    match = _DEFINITION.match(line)
    if match is not None:
        ok, _ = _destination_allowed(match["rest"], 0)
        if not ok:
            line = f"{match['head']}\\[{match['label']}\\]:{match['rest']}"
    return line.replace("<", "&lt;")


def _blocks(text: str) -> Iterator[tuple[str, int, int]]:
    """(kind, first line, end line) of each leaf block: "code", "html", "row" or "inline"."""
    tokens = _permissive().parse(text)
    for index, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        if token.type in ("fence", "code_block"):
            yield "code", start, end
        elif token.type in _LEAVES:
            yield ("html" if token.type == "html_block" else "inline"), start, end
        elif token.type == "inline":
            cell = index > 0 and tokens[index - 1].type in ("th_open", "td_open")
            yield ("row" if cell else "inline"), start, end


def _neutralise(text: str) -> str:
    lines = text.split("\n")
    done = [False] * len(lines)
    for kind, start, end in _blocks(text):
        if done[start]:
            continue  # a table row's other cells
        for i in range(start, end):
            done[i] = True
        if kind == "code":
            continue
        if kind == "html":
            lines[start:end] = [line.replace("<", "&lt;") for line in lines[start:end]]
        elif kind == "row":
            lines[start:end] = [_table_row(line) for line in lines[start:end]]
        else:
            lines[start:end] = neutralise_inline("\n".join(lines[start:end])).split("\n")
    for i, line in enumerate(lines):
        if not done[i] and line.strip():
            lines[i] = _definition(line)
    return "\n".join(lines)


def _unsafe_tokens(tokens: list[Any]) -> list[str]:
    found: list[str] = []
    stack = list(tokens)
    while stack:
        token = stack.pop()
        stack.extend(token.children or ())
        if token.type in _UNSAFE_TOKENS:
            found.append(f"{token.type}: {token.content[:40]!r}")
        elif token.type == "link_open" and not allowed_url(str(token.attrGet("href") or "")):
            found.append(f"link: {str(token.attrGet('href'))[:40]!r}")
    return found


def unsafe_constructs(text: str) -> list[str]:
    """What a permissive CommonMark parse of ``text`` would turn into HTML beyond plain
    formatting: raw HTML, images, links outside http(s)/mailto. Empty when safe."""
    return _unsafe_tokens(_permissive().parse(text))


def fenced(text: str) -> str:
    """``text`` as one code block whose fence no line inside can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def safe_inline(text: str) -> str:
    """One outside string as inline Markdown on one line (a heading, a metadata line)."""
    return neutralise_inline(" ".join(clean_text(text).split()))


def _checked(text: str) -> str | None:
    """``text`` if a permissive parse finds nothing unsafe in it, with a code fence left open at
    its end (a stopped answer) closed so it cannot swallow what follows in a file; else None."""
    tokens = _permissive().parse(f"{text}\n\nend")  # one parse answers both questions
    last = tokens[-1] if tokens else None
    if last is not None and last.type == "fence" and last.content.rstrip("\n").endswith("\nend"):
        closed = f"{text}\n{last.markup}"
        return None if unsafe_constructs(closed) else closed
    return None if _unsafe_tokens(tokens) else text


def safe_markdown(text: str) -> str:
    """Outside Markdown made safe to hand to any CommonMark/GFM renderer (see the module doc)."""
    text = clean_text(text)
    checked = _checked(_neutralise(text))
    return checked if checked is not None else fenced(text)
