"""Plain outside text made inert: no terminal escape sequences, no control characters."""

from __future__ import annotations

import html
import re

# ESC-introduced sequences: CSI (ESC [ … final), OSC (ESC ] … BEL or ST; e.g. OSC 52 writes the
# clipboard, OSC 8 fakes a link), DCS/SOS/PM/APC strings (ESC P/X/^/_ … ST), two-byte escapes.
# Their 8-bit C1 forms (U+009B CSI, U+009D OSC, …) are matched too.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[ -/]*[0-~]?",
    re.DOTALL,
)
# Every C0 control but TAB and LF, DEL, and every C1 control.
_ESCAPE_START = re.compile(r"[\x1b\x90\x98\x9b\x9d-\x9f]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"\r\n?")


def clean_text(text: str) -> str:
    """``text`` without escape sequences or control characters (TAB and LF kept; CR → LF)."""
    if not isinstance(text, str):
        text = str(text)
    text = _NEWLINES.sub("\n", text)
    if _ESCAPE_START.search(text):
        text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", text)


def one_line(text: str) -> str:
    """``text`` cleaned and folded onto one line (runs of whitespace → one space)."""
    return " ".join(clean_text(text).split())


def escape(text: str) -> str:
    """``text`` cleaned and HTML-escaped (quotes too): safe as element text or attribute value."""
    return html.escape(clean_text(text), quote=True)


def detached(text: str) -> str:
    """``text`` as a string object of its own (unless one character), to serialize and drop.

    Serializing a non-ASCII string (orjson, as the client and jupyter's `Session` use it) caches
    its UTF-8 form inside that string for as long as the string lives; a long-lived string (an
    answer a conversation keeps) sent as is would keep that copy too, ~1 byte per character
    (bench/RESULTS.md, widget lifetime). ASCII strings need no copy and get none."""
    if text.isascii() or len(text) < 2:
        return text
    return text[:-1] + text[-1:]  # a new object, freed with its UTF-8 form once sent
