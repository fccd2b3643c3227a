"""`ChatResult`: one object that is live while an answer streams and final afterwards."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from dbchat_magic.markup import escape, markdown_html

__all__ = ["FINAL_STATUSES", "ChatResult", "Metrics", "Status", "Usage"]

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
    error_kind: str | None = None
    """Why it failed or was cut off, as a word (`errors.DbChatError.kind`: "token_rejected",
    "dropped", …); None when it completed or was stopped."""
    model: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """True once the answer is final (completed, stopped, failed or truncated)."""
        return self.status in FINAL_STATUSES

    @property
    def ok(self) -> bool:
        """True when the answer completed normally."""
        return self.status == "completed"

    def __str__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        """The answer as sanitized HTML (``%dbchat last``), with the status when not completed."""
        body = markdown_html(self.text)
        if self.ok:
            return body
        return f"{body}<p><em>[{escape(self.status)}: {escape(self.error or '')}]</em></p>"
