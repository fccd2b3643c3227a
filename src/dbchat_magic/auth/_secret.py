"""`Secret` (a value that never prints), `scrub` (remove secrets from text we show or log) and
`redact` (replace credentials in text we send: prompts and recorded questions)."""

from __future__ import annotations

import hmac
import logging
import re
from typing import NoReturn

from dbchat_magic.auth._env import secret_env_values

_MASK = "****"
REDACTED = "[redacted]"
_known: set[str] = set()  # every Secret value made in this process, for `scrub` and `redact`
# Credential shapes recognised even when no Secret holds them: Databricks PATs and OAuth secrets,
# OpenAI-style keys.
_SHAPES = (
    re.compile(r"\bdapi[0-9a-f]{32}(?:-\d+)?\b"),
    re.compile(r"\bdose[0-9a-f]{32}\b"),
    re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"),
)
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + _MASK),
    (re.compile(r"(?i)(authorization['\"]?\s*[:,=]\s*(?!(?:b?['\"])?(?:bearer|basic)\b)"
                r"(?:b?['\"])?)[^\s'\",)]+"),
     r"\1" + _MASK),
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


def _replace_known(text: str, repl: str) -> tuple[str, int]:
    """Known credential values (Secrets, credential variables) and token shapes → ``repl``."""
    count = 0
    for value in sorted(_known | secret_env_values(), key=len, reverse=True):
        if value in text:
            count += text.count(value)
            text = text.replace(value, repl)
    for shape in _SHAPES:
        text, n = shape.subn(repl, text)
        count += n
    return text, count


def scrub(text: str) -> str:
    """``text`` with every known secret, credential variable value, Authorization/bearer value
    and token shape replaced by ``****``."""
    text = _replace_known(text, _MASK)[0]
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact(text: str) -> tuple[str, int]:
    """``text`` with every known credential value (Secrets made in this process, the values of
    credential environment variables) and token shape replaced by ``[redacted]``; and how many
    were replaced."""
    return _replace_known(text, REDACTED)


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs each record: its formatted message (arguments included, e.g.
    header tuples), its exception text and its stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its scrubbed form; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep both, scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def scrubbed_logger(name: str) -> logging.Logger:
    """A logger whose records are scrubbed before any handler sees them."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, ScrubFilter) for f in logger.filters):
        logger.addFilter(ScrubFilter())
    return logger


# httpcore logs through one logger per module; a filter on a parent logger never sees the records
# of its children, so each gets its own.
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                 "httpcore.proxy", "httpcore.socks")


def install_log_scrubbing() -> None:
    """Scrub the records of the httpx and httpcore loggers and of every child logger they have
    made so far (call again after importing them; cheap and idempotent)."""
    names = set(_HTTP_LOGGERS)
    names.update(n for n in list(logging.Logger.manager.loggerDict)
                 if n.startswith(("httpx.", "httpcore.")))
    for name in names:
        scrubbed_logger(name)

