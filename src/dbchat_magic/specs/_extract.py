"""Find widget specs in a model's reply: fenced blocks, untagged fences and bare objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dbchat_magic.specs._lenient_json import LenientJSONError, loads_lenient, skip_space

_FENCE = re.compile(r"(?m)^[ \t]*(```|~~~)[ \t]*([A-Za-z0-9_.+-]*)[^\n]*\n(.*?)(?:\n[ \t]*|)\1",
                    re.DOTALL)
_OPEN_FENCE = re.compile(r"(?m)^[ \t]*(```|~~~)")
_JSON_TAGS = {"", "json", "jsonc", "json5", "javascript", "js", "vega-lite", "vegalite",
              "vega", "spec", "dbchat", "widget"}
_SPEC_HINT = re.compile(r"""["']?widget["']?\s*:""")


@dataclass(frozen=True, slots=True)
class ExtractedSpec:
    """One spec found in a reply; ``spec`` is None when a spec-like block was broken."""

    spec: dict[str, Any] | None
    raw: str
    start: int
    end: int
    error: str | None = None


def _as_spec(value: Any) -> dict[str, Any] | None:
    """``value`` as a spec dict when it looks like one (a chart missing "widget" is accepted)."""
    if not isinstance(value, dict):
        return None
    if "widget" in value:
        return value
    if "mark" in value and "data" in value and ("x" in value or "y" in value):
        return {"widget": "chart", **value}
    return None


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the ``}`` that closes the ``{`` at ``start``, or None if it never closes."""
    depth = 0
    quote: str | None = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote or (ch == "\n" and quote == "'"):
                quote = None
        elif ch in "\"'":
            prev = text[i - 1] if i else " "
            if ch == '"' or not prev.isalnum():
                quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _from_block(raw: str, start: int, end: int, *, tagged_json: bool) -> list[ExtractedSpec]:
    """Specs from one fenced block's body (which may hold one object or a list of them)."""
    body = raw.strip()
    if not body[skip_space(body, 0):].startswith(("{", "[")):
        return []
    try:
        value = loads_lenient(body)
    except LenientJSONError as exc:
        if _SPEC_HINT.search(body) or (tagged_json and '"mark"' in body):
            return [ExtractedSpec(None, raw, start, end, f"spec is not valid JSON: {exc}")]
        return []
    items = value if isinstance(value, list) else [value]
    found = [ExtractedSpec(s, raw, start, end) for s in map(_as_spec, items) if s is not None]
    return found


def _bare_objects(text: str, offset: int) -> list[ExtractedSpec]:
    """Specs written as bare ``{...}`` objects in prose."""
    found: list[ExtractedSpec] = []
    i = text.find("{")
    while i >= 0:
        end = _balanced_end(text, i)
        if end is None:
            break
        raw = text[i:end]
        if _SPEC_HINT.search(raw):
            try:
                spec = _as_spec(loads_lenient(raw))
            except LenientJSONError as exc:
                found.append(ExtractedSpec(None, raw, offset + i, offset + end,
                                           f"spec is not valid JSON: {exc}"))
            else:
                if spec is not None:
                    found.append(ExtractedSpec(spec, raw, offset + i, offset + end))
            i = text.find("{", end)
        else:
            i = text.find("{", i + 1)
    return found


def extract_specs(text: str) -> list[ExtractedSpec]:
    """All complete specs in ``text`` in order; prose and an unfinished last block are ignored."""
    found: list[ExtractedSpec] = []
    pos = 0
    for m in _FENCE.finditer(text):
        found.extend(_bare_objects(text[pos:m.start()], pos))
        tag = m.group(2).lower()
        if tag in _JSON_TAGS:
            found.extend(_from_block(m.group(3), m.start(3), m.end(3), tagged_json=tag != ""))
        pos = m.end()
    tail = text[pos:]
    unfinished = _OPEN_FENCE.search(tail)
    if unfinished:
        tail = tail[:unfinished.start()]
    found.extend(_bare_objects(tail, pos))
    return found
