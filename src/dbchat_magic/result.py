"""`ChatResult`: one object that is live while an answer streams and final afterwards."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from dbchat_magic.events import ToolStep
from dbchat_magic.markup import escape, markdown_html, one_line

__all__ = ["FINAL_STATUSES", "ChatResult", "Metrics", "Status", "Usage", "call_signature",
           "step_line", "steps_html"]

Status = Literal["pending", "streaming", "completed", "stopped", "failed", "truncated"]
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "stopped", "failed", "truncated"})


@dataclass(slots=True)
class Usage:
    """Token counts; ``estimated``: we counted (`dbchat_magic.tokens`), not the server."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    estimated: bool = False


@dataclass(slots=True)
class Metrics:
    """Timings of one request. Times are seconds; ``started_at`` is wall-clock epoch seconds."""

    started_at: float = field(default_factory=time.time)
    time_to_first_token: float | None = None
    total_time: float | None = None
    tokens_per_second: float | None = None
    retries: int = 0


@dataclass(slots=True)
class ChatResult:
    """An answer: read ``text`` while it streams; ``status`` leaves "streaming" when it is final."""

    endpoint: str = ""
    text: str = ""
    reasoning: str = ""
    usage: Usage = field(default_factory=Usage)
    metrics: Metrics = field(default_factory=Metrics)
    status: Status = "pending"
    finish_reason: str | None = None
    error: str | None = None
    error_kind: str | None = None  # the `DbChatError` class behind ``error`` ("AuthError")
    error_hint: str | None = None  # that class's next step for the user
    model: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    steps: Sequence[ToolStep] = ()
    """Tool calls and tool outputs the endpoint sent, in order (dbchat never runs a tool); a tuple
    once the answer is final."""

    @property
    def done(self) -> bool:
        """True once the answer is final (completed, stopped, failed or truncated)."""
        return self.status in FINAL_STATUSES

    @property
    def ok(self) -> bool:
        """True when the answer completed normally."""
        return self.status == "completed"

    @property
    def tool_call_note(self) -> str | None:
        """For an answer that is only tool calls: "the model asked to call `lookup(order_id=7)`;
        dbchat does not run tools". None when there is text or no call."""
        calls = [s for s in self.steps if s.kind == "call"]
        if self.text.strip() or not calls:
            return None
        shown = ", ".join(f"`{call_signature(c)}`" for c in calls[:5])
        more = f" and {len(calls) - 5} more" if len(calls) > 5 else ""
        return f"the model asked to call {shown}{more}; dbchat does not run tools"

    @property
    def charts(self) -> list[Any]:
        """The answer's drawn charts, in order: each has ``.chart`` (an Altair ``Chart`` that
        displays offline), ``.data`` (a pandas DataFrame), ``.vegalite`` and ``.title``."""
        kept = (getattr(s, "kept_chart", lambda: None)() for s in self.extras.get("specs") or ())
        return [k for k in kept if k is not None]

    def __str__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        """The answer as sanitized HTML (``%dbchat last``), with the status when not completed."""
        body = markdown_html(self.text)
        if self.steps:
            body = steps_html(self.steps) + body
        note = self.tool_call_note
        if note:
            body += f"<p><em>{escape(note)}</em></p>"
        if self.ok:
            return body
        return f"{body}<p><em>[{escape(self.status)}: {escape(self.error or '')}]</em></p>"


_MAX_SHOWN = 120


def _short(text: str, limit: int = _MAX_SHOWN) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_signature(step: ToolStep) -> str:
    """``name(key=value, …)`` from a call's JSON arguments (the raw text when not an object),
    one line, cut to 120 characters."""
    try:
        args = orjson.loads(step.text) if step.text.strip() else {}
    except orjson.JSONDecodeError:
        args = None
    if isinstance(args, dict):
        inner = ", ".join(f"{k}={orjson.dumps(v).decode()}" for k, v in args.items())
    else:
        inner = step.text
    return _short(f"{step.name}({inner})").replace("`", "'")  # shown in `…`: cannot close it


def step_line(step: ToolStep) -> str:
    """One step as one plain line: "call lookup(order_id=7)" or "lookup → shipped"."""
    if step.kind == "call":
        return f"call {call_signature(step)}"
    return _short(f"{step.name or 'tool'} → {step.text}")


def steps_html(steps: Sequence[ToolStep]) -> str:
    """A collapsed ``<details>`` "steps" section (every value escaped)."""
    items = "".join(f"<li><code>{escape(step_line(s))}</code></li>" for s in steps[:50])
    more = f"<li>… {len(steps) - 50} more</li>" if len(steps) > 50 else ""
    return (f"<details class='dbchat-steps'><summary>steps ({len(steps)})</summary>"
            f"<ul>{items}{more}</ul></details>")
