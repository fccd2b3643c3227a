"""Exceptions that end a `%%dbchat` cell with one short line instead of a traceback.

IPython shows ``_render_traceback_()`` instead of a traceback when an exception defines it; the
kernel sends those lines as the cell's error output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbchat_magic.ui import explain_error

if TYPE_CHECKING:
    from dbchat_magic.errors import DbChatError
    from dbchat_magic.result import ChatResult


class CellError(Exception):
    """The cell could not ask its question (bad option, frame, endpoint, credentials).

    Made `from_error`, it keeps the typed error (``error``, also the ``__cause__``): its kind and
    its hint reach the one line the cell shows."""

    def __init__(self, message: str, *, error: DbChatError | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error

    @classmethod
    def from_error(cls, error: DbChatError, prefix: str = "", suffix: str = "") -> CellError:
        """The cell's error for ``error``: its message between ``prefix`` and ``suffix``."""
        return cls(f"{prefix}{error}{suffix}", error=error)

    @property
    def kind(self) -> str | None:
        """The typed error's class name, None for the magic's own errors."""
        return self.error.kind if self.error is not None else None

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        hint = self.error.hint if self.error is not None else None
        return [f"dbchat: {explain_error(self.message, hint=hint)}"]


class AnswerFailed(Exception):
    """The answer failed: the cell ends in error (Run All, nbval, papermill and jobs stop) with
    one line saying why and what to do; the partial answer is shown and kept on ``result``."""

    def __init__(self, result: ChatResult, line: str) -> None:
        super().__init__(line)
        self.result = result
        self.line = line

    def _render_traceback_(self) -> list[str]:
        return [self.line]
