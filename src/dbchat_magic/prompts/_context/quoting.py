"""Make values from frames safe to show to a model: quoted, one line, truncated.

Frame contents are untrusted data. Every string value goes through JSON quoting, so a cell can never
start a new line, close a quote, or look like a heading or an instruction of the prompt itself.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from typing import Any

MAX_VALUE_CHARS = 40
MAX_NAME_CHARS = 60
_LINE_BREAKERS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"}
_SAFE_NAME = re.compile(r"[^\x00-\x1f\x7f\u0085\u2028\u2029\"`#]+")


def _escape_breakers(text: str) -> str:
    for ch, esc in _LINE_BREAKERS.items():
        if ch in text:
            text = text.replace(ch, esc)
    return text


def clip(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, ending with "…" when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def quote_text(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """JSON-quoted, truncated, single-line form of ``text``."""
    return _escape_breakers(json.dumps(clip(text, limit), ensure_ascii=False))


def safe_name(name: Any) -> str:
    """A column name as shown in a column line: raw when harmless, JSON-quoted otherwise."""
    text = name if isinstance(name, str) else plain_name(name)
    if (text and len(text) <= MAX_NAME_CHARS and ": " not in text and text.strip() == text
            and _SAFE_NAME.fullmatch(text)):
        return text
    return quote_text(text, MAX_NAME_CHARS)


def plain_name(value: Any) -> str:
    """``str()`` of a non-string name; tuples (MultiIndex labels) joined by " / "."""
    if isinstance(value, tuple):
        return " / ".join(plain_name(v) for v in value)
    try:
        return str(value)
    except Exception:  # a hostile __str__ must not break the prompt
        return f"<{type(value).__name__}>"


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas.NA (without importing pandas)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    name = type(value).__name__
    if name in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)  # numpy NaN scalars
    except Exception:
        return False


def format_number(value: float | int) -> str:
    """A short, unquoted number: ints as is, floats to 6 significant digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def _to_python(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalar → python scalar
    if callable(item) and type(value).__module__ == "numpy":
        try:
            return item()
        except Exception:
            return value
    return value


def format_value(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """One cell as prompt text: null, a bare number/bool, or a quoted, truncated string."""
    value = _to_python(value)
    if is_missing(value):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, str):
        return quote_text(value, limit)
    if isinstance(value, bytes):
        return quote_text(f"<{len(value)} bytes>", limit)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return quote_text(value.isoformat(), limit)
    if type(value).__name__ == "Timedelta":
        return quote_text(str(value), limit)
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        try:
            return quote_text(str(iso()), limit)
        except Exception:
            pass
    try:
        text = repr(value) if isinstance(value, dict | list | tuple | set) else str(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return quote_text(" ".join(clip(text, limit * 4).split()), limit)


def format_values_hint(values: Iterable[Any], total: int, shown: int = 8,
                       limit: int = 24, label: str = "distinct") -> str:
    """``"N distinct: "a", "b", …"``-style hint listing at most ``shown`` values."""
    listed = [format_value(v, limit) for _, v in zip(range(shown), values, strict=False)]
    more = ", …" if total > len(listed) else ""
    return f"{total} {label}: " + ", ".join(listed) + more
