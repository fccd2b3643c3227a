"""Typed errors with short, actionable messages. Messages never contain a credential.

The exception tree::

    DbChatError
    ├── ConfigError (also a ValueError)
    ├── AuthError
    ├── EndpointNotFound
    ├── BadRequest
    ├── RateLimited
    ├── ServerError
    ├── ConnectError
    ├── RequestTimeout
    └── StreamFailed

``prompts.FrameNotFound`` is a `ConfigError`. Each class carries ``hint``, the next step a user
can take (None where the message itself says it); a failed `ChatResult` keeps the class name and the
hint, so the UI never reads the kind back out of the message text.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthError",
    "BadRequest",
    "ConfigError",
    "ConnectError",
    "DbChatError",
    "EndpointNotFound",
    "RateLimited",
    "RequestTimeout",
    "ServerError",
    "StreamFailed",
]


class DbChatError(Exception):
    """Base class: ``str(err)`` is a one-line message fit to show a user."""

    status_code: int | None = None
    hint: ClassVar[str | None] = None

    def __init__(
        self, message: str, *, status_code: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message

    @property
    def kind(self) -> str:
        """The error's class name (``"AuthError"``): what a failed result keeps."""
        return type(self).__name__


class ConfigError(DbChatError, ValueError):
    """A setting is missing or invalid (the message names the field)."""


class AuthError(DbChatError):
    """401/403 or no credentials (the message names the credential source, never the token)."""

    hint = "`%dbchat config` shows which credentials are used"


class EndpointNotFound(DbChatError):
    """404: the serving endpoint does not exist (or its model was retired)."""

    hint = "`%dbchat endpoints` lists yours"


class BadRequest(DbChatError):
    """400: the endpoint rejected the request body."""


class RateLimited(DbChatError):
    """429 after all retries, or the client-side budget is exhausted in fail-fast mode."""

    hint = "wait a minute, or lower the request rate in the settings"

    def __init__(self, message: str, *, retry_after: float | None = None,
                 status_code: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message, status_code=status_code, request_id=request_id)
        self.retry_after = retry_after


class ServerError(DbChatError):
    """5xx or a gateway error page after all retries."""


class ConnectError(DbChatError):
    """The host could not be reached (refused, DNS, TLS)."""

    hint = "check the workspace host with `%dbchat config`"


class RequestTimeout(DbChatError):
    """Connect, first-byte, between-chunks or total timeout."""

    hint = "the endpoint may be scaling up from zero: ask again in a minute"


class StreamFailed(DbChatError):
    """The server reported an error in the middle of a stream."""
