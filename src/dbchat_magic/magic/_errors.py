"""Exceptions that end a `%%dbchat` cell with one short line instead of a traceback.

IPython shows ``_render_traceback_()`` instead of a traceback when an exception defines it; the
kernel sends those lines as the cell's error output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbchat_magic.result import ChatResult


class CellError(Exception):
    """The cell could not ask its question (bad option, frame, endpoint, credentials)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        return [f"dbchat: {self.message}"]


class AnswerStopped(Exception):
    """The kernel was interrupted (■) while an answer streamed; the partial answer is kept."""

    def __init__(self, result: ChatResult) -> None:
        self.result = result
        tokens = result.usage.completion_tokens
        got = f"{tokens} tokens" if tokens is not None else f"{len(result.text)} characters"
        if result.text:
            message = f"■ stopped after {got}; the partial answer is kept in _dbchat_last"
        else:
            message = "■ stopped before the first token; the request was cancelled"
        super().__init__(message)

    def _render_traceback_(self) -> list[str]:
        return [str(self)]
