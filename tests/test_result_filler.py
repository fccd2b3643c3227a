"""ResultFiller keeps short labels (endpoint, the server's model name and finish reason) once per
process, not one copy per answer, and drops labels that are not strings."""

from __future__ import annotations

from typing import Any

from dbchat_magic.client._accumulate import ResultFiller
from dbchat_magic.events import StreamEnd, TextDelta
from dbchat_magic.result import ChatResult


def _answer(model: Any, finish: Any, endpoint: str = "ep") -> ChatResult:
    filler = ResultFiller(ChatResult(), endpoint, [{"role": "user", "content": "q"}])
    filler.apply(TextDelta("hello"))
    filler.apply(StreamEnd("completed", finish, model))
    return filler.finish("completed")


def _fresh(text: str) -> str:
    """An equal string that is a different object (as each parsed response makes)."""
    return "".join(list(text))


def test_answers_share_one_copy_of_the_same_model_name() -> None:
    first, second = _answer(_fresh("my-model-7b"), _fresh("stop")), _answer(
        _fresh("my-model-7b"), _fresh("stop"))
    assert first.model == second.model == "my-model-7b"
    assert first.model is second.model
    assert first.finish_reason is second.finish_reason
    a, b = _answer("m", "stop", _fresh("my-endpoint")), _answer("m", "stop", _fresh("my-endpoint"))
    assert a.endpoint == "my-endpoint" and a.endpoint is b.endpoint
    assert (first.text, first.status) == ("hello", "completed")


def test_long_or_non_string_labels() -> None:
    long_name = "m" * 500
    result = _answer(long_name, ["stop"])
    assert result.model == long_name  # kept as it is, only not shared
    assert result.finish_reason is None  # a list is not a finish reason
    assert _answer(42, None).model is None
