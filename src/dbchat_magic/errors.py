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

``prompts.FrameNotFound`` is a `ConfigError`.
"""

from __future__ import annotations

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
    kind: str = "error"
    """What went wrong, as a word the UI keys its next-step hint by (``"token_rejected"``…)."""

    def __init__(
        self, message: str, *, status_code: int | None = None, request_id: str | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if kind is not None:
            self.kind = kind
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class ConfigError(DbChatError, ValueError):
    """A setting is missing or invalid (the message names the field)."""

    kind = "config"


class AuthError(DbChatError):
    """401/403 or no credentials (the message names the credential source, never the token)."""

    kind = "auth"


class EndpointNotFound(DbChatError):
    """404: the serving endpoint does not exist (or its model was retired)."""

    kind = "not_found"


class BadRequest(DbChatError):
    """400: the endpoint rejected the request body."""

    kind = "bad_request"


class RateLimited(DbChatError):
    """429 after all retries, or the client-side budget is exhausted in fail-fast mode."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(DbChatError):
    """5xx or a gateway error page after all retries."""

    kind = "server"


class ConnectError(DbChatError):
    """The host could not be reached (refused, DNS, TLS)."""

    kind = "connect"


class RequestTimeout(DbChatError):
    """Connect, first-byte, between-chunks or total timeout."""

    kind = "timeout"


class StreamFailed(DbChatError):
    """The server reported an error in the middle of a stream."""

    kind = "stream"
