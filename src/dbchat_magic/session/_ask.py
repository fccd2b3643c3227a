"""What one question is: the per-question options, the prepared request, the running handle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbchat_magic.config import Settings
    from dbchat_magic.prompts import ComposedPrompt, PromptPart
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
    record: bool = True  # False: keep the answer out of the conversation (compare columns)


@dataclass
class PreparedAsk:
    """Everything needed to send one question: the composed prompt (exact messages, their parts),
    the endpoint and the sampling parameters (``params``: ``temperature`` and ``max_tokens``;
    ``None`` is the endpoint's own default)."""

    prompt: ComposedPrompt
    endpoint: str
    params: dict[str, Any]
    settings: Settings
    options: AskOptions = field(default_factory=AskOptions)

    @property
    def question(self) -> str:
        """The question as sent and recorded (known credentials redacted)."""
        return self.prompt.question

    @property
    def messages(self) -> list[dict[str, str]]:
        """The messages exactly as they are sent."""
        return self.prompt.messages

    @property
    def parts(self) -> list[PromptPart]:
        """The size of each part of the prompt."""
        return self.prompt.parts

    @property
    def notes(self) -> list[str]:
        """What the view should tell (e.g. that credentials were redacted), also in the result's
        ``extras["prompt_notes"]``."""
        return self.prompt.notes

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
