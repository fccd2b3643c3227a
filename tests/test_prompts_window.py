"""compose() within a context window (issue 12 item 5): history and data context shrink to the room
the fixed parts and max_tokens leave; a question that cannot fit is refused before sending."""

from __future__ import annotations

import pandas as pd
import pytest

from dbchat_magic.config import Settings
from dbchat_magic.errors import BadRequest
from dbchat_magic.prompts import compose, trim_history
from dbchat_magic.tokens import estimate_tokens

NOTE = "the quarterly figures rose in the north region. " * 45  # ~560 tokens


def _history(turns: int) -> list[dict[str, str]]:
    out = []
    for i in range(turns):
        out += [{"role": "user", "content": f"{NOTE} question {i}"},
                {"role": "assistant", "content": f"answer {i}"}]
    return out


def _total(messages: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + 4 for m in messages)


def test_without_a_window_only_the_budgets_apply() -> None:
    prompt = compose("any trend?", history=_history(8), settings=Settings())
    assert prompt.history_dropped == trim_history(_history(8), 3000)[1] > 0


@pytest.mark.parametrize("context_tokens", [1024, 2048])
def test_history_is_trimmed_to_fit_the_window(context_tokens: int) -> None:
    settings = Settings(context_tokens=context_tokens, max_tokens=64)
    prompt = compose(f"{NOTE} any trend?", history=_history(6), settings=settings)
    assert _total(prompt.messages) + 64 <= context_tokens
    bigger = compose(f"{NOTE} any trend?", history=_history(6),
                     settings=settings.replace(context_tokens=context_tokens * 2))
    assert len(bigger.messages) > len(prompt.messages)  # the window, not the budget, limited it


def test_data_context_is_capped_to_the_window() -> None:
    frame = pd.DataFrame({f"column_{i}": range(50) for i in range(40)})
    ns = {"wide": frame}
    free = compose("describe it", namespace=ns, frames=["wide"], settings=Settings())
    tight = compose("describe it", namespace=ns, frames=["wide"],
                    settings=Settings(context_tokens=600, max_tokens=64))
    part = {p.name: p.tokens for p in tight.parts}
    assert 0 < part["data context"] < {p.name: p.tokens for p in free.parts}["data context"]
    assert _total(tight.messages) + 64 <= 600


def test_a_question_that_cannot_fit_is_refused_with_the_numbers() -> None:
    settings = Settings(context_tokens=2048, max_tokens=32)
    with pytest.raises(BadRequest) as caught:
        compose("Summarise: " + "lorem ipsum " * 1500, settings=settings)
    said = str(caught.value)
    assert said.startswith("the prompt does not fit the model's context window: question ~4,503")
    assert "max_tokens 32" in said and "context_tokens 2,048" in said
    assert "nothing was sent" in said
    with pytest.raises(BadRequest):  # max_tokens is the answer's share of the window
        compose("short", settings=Settings(context_tokens=1024, max_tokens=1000))
