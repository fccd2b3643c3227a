"""Turn an error into "what happened — what to do next" for the answer view.

The next step comes from the error's type (`DbChatError.hint`, kept by a failed `ChatResult` as
``error_hint``) or from the answer's status; the message text is never searched for a kind.
"""

from __future__ import annotations

import re

from dbchat_magic.errors import DbChatError

_PARTIAL = ("stopped", "truncated")  # statuses that keep a partial answer
_STATUS_HINTS = {"truncated": "the partial answer is kept: ask again to get the rest"}

_HAS_NEXT_STEP = re.compile(r"[;:]\s*(set|run|check|try|use|wait|ask|pass)\b", re.I)
"""A message that already says what to do (the client's usually do) is kept as it is."""


def explain_error(error: str | DbChatError | None, *, status: str = "failed",
                  hint: str | None = None) -> str:
    """A one-line error with its next step: ``hint``, else the typed error's own, else the one of
    ``status``. A message that already names a next step is kept as it is.

    ``explain_error(EndpointNotFound("Endpoint with name 'x' does not exist."))`` →
    ``"Endpoint with name 'x' does not exist. — `%dbchat endpoints` lists yours"``.
    """
    if isinstance(error, DbChatError):
        hint = hint or error.hint
    text = " ".join(str(error or "").split())
    hint = hint or _STATUS_HINTS.get(status)
    if not text:
        return "the partial answer is kept" if status in _PARTIAL else "the request failed"
    if not hint or "`%dbchat" in text or " — " in text or _HAS_NEXT_STEP.search(text):
        return text
    return f"{text} — {hint}"
