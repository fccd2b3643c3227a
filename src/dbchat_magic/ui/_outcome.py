"""One look per outcome, the same in cell and panel: completed (no line), stopped or truncated
(amber, one line), failed (red: the reason and the next step).

The next step is chosen by the error's kind (`ChatResult.error_kind`, `errors.DbChatError.kind`),
never by matching words in the message; a message that already says what to do is kept as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from dbchat_magic.markup import escape, one_line
from dbchat_magic.result import ChatResult

Tone = Literal["neutral", "amber", "red"]

NEXT_STEPS: dict[str, str] = {
    "BadRequest": "check -t/--temperature and -m/--max-tokens against the endpoint's limits",
    "ServerError": "try again in a minute",
    "StreamFailed": "ask again; if it repeats, the endpoint's model may be failing",
    "ConfigError": "`%dbchat config` shows the settings",
    "DbChatError": "ask again",  # the connection broke before an answer arrived
    "truncated": "ask again to get the rest",
}
"""The next step for a kind (`ChatResult.error_kind`: the `DbChatError` class name) whose class
has no ``hint`` of its own; the class's hint (``error_hint``) comes first."""

COLORS: dict[Tone, str] = {
    "neutral": "var(--jp-ui-font-color2, #616161)",
    "amber": "var(--jp-warn-color0, #a05a00)",
    "red": "var(--jp-error-color1, #b00020)",
}
"""JupyterLab's theme colours (light and dark), with fallbacks legible on white elsewhere."""

_HAS_STEP = re.compile(r"[;:]\s*(you need|set|run|check|try|use|wait|ask|pass|make|raise)\b", re.I)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an answer ended, as one line and its tone."""

    tone: Tone
    text: str

    def as_html(self) -> str:
        """The line as escaped HTML in its tone's colour."""
        return (f"<div class='dbchat-outcome dbchat-{self.tone}' style='color:"
                f"{COLORS[self.tone]}'><small>{escape(self.text)}</small></div>")


def next_step(kind: str | None, message: str, hint: str | None = None) -> str:
    """``hint``, else the step for ``kind``; "" when the message already says what to do."""
    if "`%dbchat" in message or " — " in message or _HAS_STEP.search(message):
        return ""
    return hint or NEXT_STEPS.get(kind or "", "")


def _tokens(result: ChatResult) -> str:
    count = result.usage.completion_tokens
    if count is None:
        return f"{len(result.text)} characters"
    return f"{'≈' if result.usage.estimated else ''}{count} token{'' if count == 1 else 's'}"


def _received(result: ChatResult) -> bool:
    return result.metrics.time_to_first_token is not None or bool(result.text or result.reasoning)


def outcome(result: ChatResult) -> Outcome | None:
    """The line for an answer that did not complete (None when it completed or is still live)."""
    if result.status == "stopped":
        if not _received(result):
            return Outcome("amber", "■ stopped before the first token")
        return Outcome("amber", f"■ stopped after {_tokens(result)} — partial answer kept")
    if result.status == "truncated":
        why = one_line(result.error or "the stream ended early")
        step = next_step("truncated", why)
        return Outcome("amber", f"⚠ cut off after {_tokens(result)}: {why} — partial answer kept"
                                + (f"; {step}" if step else ""))
    if result.status == "failed":
        why = one_line(result.error or "the request failed")
        step = next_step(result.error_kind, why, result.error_hint)
        kept = f" (partial answer of {_tokens(result)} kept)" if result.text else ""
        return Outcome("red", f"✗ failed: {why}" + (f" — {step}" if step else "") + kept)
    return None


def outcome_line(result: ChatResult) -> str:
    """`outcome` as plain text ("" when there is none)."""
    found = outcome(result)
    return found.text if found is not None else ""
