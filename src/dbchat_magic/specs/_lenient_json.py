"""Parse the JSON models actually write: comments, trailing commas, single quotes, bare keys."""

from __future__ import annotations

import json
from typing import Any

_WORDS = {"True": "true", "False": "false", "None": "null",
          "true": "true", "false": "false", "null": "null"}
_IDENT_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$"
_IDENT_CHARS = _IDENT_START + "0123456789-"
_NUMBER_START = "-+0123456789."
_NUMBER_CHARS = "0123456789.eE+-"


class LenientJSONError(ValueError):
    """The text is not JSON even after forgiving the usual model slips."""


def loads_lenient(text: str) -> Any:
    """Parse ``text`` as JSON, first strictly, then after repairing common slips."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    except RecursionError:
        raise LenientJSONError("invalid JSON: nested too deeply") from None
    try:
        return json.loads(to_strict_json(text))
    except RecursionError:
        raise LenientJSONError("invalid JSON: nested too deeply") from None
    except ValueError as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        pos = f" at line {exc.lineno} column {exc.colno}" if isinstance(
            exc, json.JSONDecodeError) else ""
        raise LenientJSONError(f"invalid JSON: {msg}{pos}") from None


def _read_string(text: str, i: int) -> tuple[str, int]:
    """Read a quoted string at ``i``; return it double-quoted, and the next index."""
    quote = text[i]
    out = ['"']
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(nxt if nxt == "'" else "\\" + nxt)
            i += 2
            continue
        if ch == quote:
            out.append('"')
            return "".join(out), i + 1
        if ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
        i += 1
    raise LenientJSONError("invalid JSON: unterminated string")


def skip_space(text: str, i: int) -> int:
    """Skip whitespace and comments from ``i``."""
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text.startswith("//", i) or text[i] == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        else:
            break
    return i


def to_strict_json(text: str) -> str:
    """Rewrite lenient JSON into strict JSON text (does not check the result)."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        j = skip_space(text, i)
        if j != i:
            out.append(" ")
            i = j
            continue
        ch = text[i]
        if ch in "\"'":
            s, i = _read_string(text, i)
            out.append(s)
        elif ch == ",":
            k = skip_space(text, i + 1)
            if k < n and text[k] in "}]":
                i = k
            else:
                out.append(",")
                i += 1
        elif ch in _NUMBER_START:
            k = i + 1
            while k < n and text[k] in _NUMBER_CHARS:
                k += 1
            out.append(text[i:k])
            i = k
        elif ch in _IDENT_START:
            k = i
            while k < n and text[k] in _IDENT_CHARS:
                k += 1
            word = text[i:k]
            after = skip_space(text, k)
            if word in _WORDS and not (after < n and text[after] == ":"):
                out.append(_WORDS[word])
            else:
                out.append(json.dumps(word))
            i = k
        else:
            out.append(ch)
            i += 1
    return "".join(out)
