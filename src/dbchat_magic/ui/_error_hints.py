"""Turn a short error message into "what happened — what to do next" for the answer view."""

from __future__ import annotations

import re

_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"does not exist|not found|RESOURCE_DOES_NOT_EXIST|\b404\b", re.I),
     "`%dbchat endpoints` lists yours"),
    (re.compile(r"permission|forbidden|unauthori[sz]ed|\b40[13]\b|credential|token", re.I),
     "`%dbchat config` shows which credentials are used"),
    (re.compile(r"rate limit|REQUEST_LIMIT_EXCEEDED|\b429\b|too many", re.I),
     "wait a minute, or lower the request rate in the settings"),
    (re.compile(r"timed? ?out|timeout", re.I),
     "the endpoint may be scaling up from zero: ask again in a minute"),
    (re.compile(r"connect|unreachable|refused|resolve|DNS|TLS|SSL", re.I),
     "check the workspace host with `%dbchat config`"),
    (re.compile(r"ended early|truncat|dropped", re.I),
     "the partial answer is kept: ask again to get the rest"),
)


_HAS_NEXT_STEP = re.compile(r"[;:]\s*(set|run|check|try|use|wait|ask|pass)\b", re.I)
"""A message that already says what to do (the client's usually do) is kept as it is."""


def explain_error(message: str | None, *, status: str = "failed") -> str:
    """A one-line error with a next step; the message is kept as it is when it already has one.

    ``explain_error("Endpoint with name 'x' does not exist.")`` →
    ``"Endpoint with name 'x' does not exist. — `%dbchat endpoints` lists yours"``.
    """
    text = " ".join((message or "").split())
    if not text:
        if status in ("stopped", "truncated"):
            return "the partial answer is kept"
        return "the request failed"
    if "`%dbchat" in text or " — " in text or _HAS_NEXT_STEP.search(text):
        return text
    for pattern, hint in _HINTS:
        if pattern.search(text):
            return f"{text} — {hint}"
    return text
