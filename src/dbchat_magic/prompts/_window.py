"""The context window: how much room history and data context have once the fixed parts (persona,
format rules, question) and the answer's ``max_tokens`` are set aside, and the message when even
the fixed parts do not fit. Sizes are `estimate_tokens` estimates, so a margin is kept."""

from __future__ import annotations

from dataclasses import dataclass

from dbchat_magic.errors import BadRequest

MESSAGE_FRAMING = 4  # tokens of role framing per message (chat templates add a few)
MARGIN_SHARE = 0.10  # the estimate is ~4 characters a token; real tokenizers vary by ~10 %


@dataclass(frozen=True)
class Window:
    """The room left in ``context_tokens`` after the fixed parts and the answer."""

    context_tokens: int
    fixed: int  # persona + rules + question + framing (estimated)
    reserve: int  # the answer's max_tokens

    @property
    def margin(self) -> int:
        return int(self.context_tokens * MARGIN_SHARE) + MESSAGE_FRAMING

    @property
    def room(self) -> int:
        """Tokens left for data context and history (negative: the question cannot fit)."""
        return self.context_tokens - self.fixed - self.reserve - self.margin

    def check(self, question_tokens: int) -> None:
        """`BadRequest` before anything is sent when the fixed parts alone do not fit."""
        if self.room >= 0:
            return
        system = self.fixed - question_tokens
        raise BadRequest(
            f"the prompt does not fit the model's context window: question ~{question_tokens:,} "
            f"+ system prompt ~{system:,} + max_tokens {self.reserve:,} (+ a margin of "
            f"{self.margin:,}) tokens > context_tokens {self.context_tokens:,}; nothing was sent. "
            "Shorten the question, lower max_tokens (-m N), or, if the model allows more, "
            "`%dbchat set context_tokens N`")


def bounded(budget: int, window: Window | None, used: int = 0) -> int:
    """``budget`` capped to what the window has left after ``used`` tokens (no window: as is)."""
    if window is None:
        return budget
    return max(0, min(budget, window.room - used))
