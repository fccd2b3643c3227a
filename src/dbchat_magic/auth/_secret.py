"""`Secret` (a value that never prints) and `scrub` (remove secrets from text we show or log)."""

from __future__ import annotations

import hmac
import logging
import re
from typing import NoReturn

_MASK = "****"
_known: set[str] = set()  # every Secret value made in this process, for `scrub`
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + _MASK),
    (re.compile(r"\bdapi[0-9a-f]{32}(?:-\d+)?\b"), "dapi" + _MASK),
    (re.compile(r"(?i)(\"?(?:access_)?token\"?\s*[:=]\s*\"?)[^\s\",}]+"), r"\1" + _MASK),
)


class Secret:
    """A credential: ``repr``, ``str`` and ``format`` show ``****``; `reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a string")
        self._value = value
        if len(value) >= 4:
            _known.add(value)

    def reveal(self) -> str:
        """The secret value (only for building a request header)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


def scrub(text: str) -> str:
    """``text`` with every known secret, bearer value and Databricks token replaced by ``****``."""
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, _MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs the formatted message of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its scrubbed form; never drops a record."""
        message = scrub(record.getMessage())
        record.msg, record.args = message, None
        return True


def scrubbed_logger(name: str) -> logging.Logger:
    """A logger whose records are scrubbed before any handler sees them."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, ScrubFilter) for f in logger.filters):
        logger.addFilter(ScrubFilter())
    return logger

