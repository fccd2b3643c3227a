"""What one question is: the per-question options, the prepared request, the running handle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbchat_magic.config import Settings
    from dbchat_magic.prompts import PromptPart
    from dbchat_magic.result import ChatResult
    from dbchat_magic.runner import TaskFuture


@dataclass
class AskOptions:
    """Per-question overrides; ``None`` means "use the settings"."""

    endpoint: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    persona: str | None = None
    frames: list[str] | None = None
    no_history: bool = False


@dataclass
class PreparedAsk:
    """Everything needed to send one question: the exact messages, their parts, the endpoint and
    the sampling parameters.

    ``question`` is the question as sent and recorded (known credentials redacted); ``notes`` are
    what the view should tell (e.g. that credentials were redacted), also in the result's
    ``extras["prompt_notes"]``. ``params`` holds ``temperature`` and ``max_tokens`` (``None``:
    the endpoint's own default)."""

    question: str
    messages: list[dict[str, Any]]
    parts: list[PromptPart]
    endpoint: str
    params: dict[str, Any]
    settings: Settings
    options: AskOptions = field(default_factory=AskOptions)
    notes: list[str] = field(default_factory=list)

    def request_params(self) -> dict[str, Any]:
        """The parameters sent with the request: those that are set."""
        return {k: v for k, v in self.params.items() if v is not None}


class AskHandle:
    """A running question: ``result`` is live while it streams; ``cancel()`` stops it."""

    def __init__(self, prepared: PreparedAsk, result: ChatResult, future: TaskFuture) -> None:
        self.prepared = prepared
        self.result = result
        self.future = future

    def cancel(self) -> None:
        """Stop the answer: the request is cancelled and its connection closed; text is kept."""
        self.future.cancel()

    @property
    def done(self) -> bool:
        """True once the pipeline has ended (the result is final and the turn recorded)."""
        return self.future.settled

    def wait(self, timeout: float | None = None) -> ChatResult:
        """Block (not interruptibly) until the pipeline has ended; returns the result."""
        self.future.wait_settled(timeout)
        return self.result
