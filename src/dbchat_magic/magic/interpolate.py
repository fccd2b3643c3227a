"""Brace-safe ``{var}`` interpolation of kernel variables into a question.

Rules:
- ``{name}``, ``{name.attr}``, ``{name[0]}``, ``{name['key']}`` are replaced by ``str(value)``
  only when the expression resolves in the user namespace. Resolution walks names, attributes
  and literal subscripts; nothing is evaluated or called.
- Anything else in braces (JSON, dict literals, format specs, ``{ x }`` with spaces) is left
  untouched.
- ``{{name}}`` is an escape: it becomes the literal text ``{name}``. Other ``{{``/``}}``
  (nested JSON) are left as they are.
- Text inside Markdown code (```` ``` ```` fences and `` `inline` `` spans) is never touched, so
  pasted f-string code passes through as written.
- Unknown names are left as written and reported in `Interpolated.notes`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_VALUE_CHARS = 20_000

_EXPR = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[(?:-?\d+|'[^'\]]*'|\"[^\"\]]*\")\])*"
_PLACEHOLDER = re.compile(r"\{\{(?P<escaped>" + _EXPR + r")\}\}|\{(?P<expr>" + _EXPR + r")\}")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)
_STEP = re.compile(r"\.(?P<attr>[A-Za-z_]\w*)|\[(?P<index>-?\d+|'[^']*'|\"[^\"]*\")\]")
_MISSING = object()


@dataclass
class Interpolated:
    """The interpolated text and notes about placeholders that were left as written."""

    text: str
    replaced: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def resolve(expr: str, namespace: Mapping[str, Any]) -> Any:
    """Value of a ``name(.attr|[literal])*`` expression in ``namespace``, or `_MISSING`."""
    head = re.match(r"[A-Za-z_]\w*", expr)
    if head is None or head.group(0) not in namespace:
        return _MISSING
    value = namespace[head.group(0)]
    for step in _STEP.finditer(expr, head.end()):
        try:
            if step.group("attr") is not None:
                value = getattr(value, step.group("attr"))
            else:
                raw = step.group("index")
                key: Any = raw[1:-1] if raw[0] in "'\"" else int(raw)
                value = value[key]
        except Exception:
            return _MISSING
    return value


def interpolate(text: str, namespace: Mapping[str, Any]) -> Interpolated:
    """Replace resolvable ``{expr}`` placeholders outside Markdown code; see the module rules."""
    out = Interpolated(text="")
    pieces: list[str] = []
    pos = 0
    for code in _CODE.finditer(text):
        pieces.append(_interpolate_prose(text[pos:code.start()], namespace, out))
        pieces.append(code.group(0))
        pos = code.end()
    pieces.append(_interpolate_prose(text[pos:], namespace, out))
    out.text = "".join(pieces)
    return out


def _interpolate_prose(text: str, namespace: Mapping[str, Any], out: Interpolated) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped") is not None:
            return "{" + match.group("escaped") + "}"
        expr = match.group("expr")
        value = resolve(expr, namespace)
        if value is _MISSING:
            note = f"{{{expr}}} left as written: it does not resolve in the notebook's variables"
            if note not in out.notes:
                out.notes.append(note)
            return match.group(0)
        rendered = str(value)
        if len(rendered) > MAX_VALUE_CHARS:
            rendered = rendered[:MAX_VALUE_CHARS] + " …"
            out.notes.append(f"{{{expr}}} was cut to {MAX_VALUE_CHARS:,} characters")
        out.replaced.append(expr)
        return rendered

    return _PLACEHOLDER.sub(substitute, text)
