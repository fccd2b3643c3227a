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


class AnswerFailed(Exception):
    """The answer failed: the cell ends in error (Run All, nbval, papermill and jobs stop) with
    one line saying why and what to do; the partial answer is shown and kept on ``result``."""

    def __init__(self, result: ChatResult, line: str) -> None:
        super().__init__(line)
        self.result = result
        self.line = line

    def _render_traceback_(self) -> list[str]:
        return [self.line]
