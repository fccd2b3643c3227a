"""An endpoint's kind: its ``task`` from ``GET /api/2.0/serving-endpoints/{name}`` → the API to
talk to it with (`api_for_task`), read once per endpoint and cached (`EndpointKinds`).

Tasks: ``llm/v1/chat`` (foundation and external models) and ``agent/v1/chat`` (MLflow ChatModel)
take Chat Completions; ``agent/v2/chat`` is an MLflow ChatAgent; ``agent/v1/responses`` and
``agent/v2/responses`` take the Responses API (docs/notes/databricks-2026-protocol.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

TASK_APIS: dict[str, str] = {
    "llm/v1/chat": "chat", "agent/v1/chat": "chat", "agent/v2/chat": "agent-chat",
    "agent/v1/responses": "responses", "agent/v2/responses": "responses"}
"""The tasks dbchat can talk to, and how."""


def api_for_task(task: str | None) -> str:
    """The API for an endpoint's ``task`` (unknown or unread → Chat Completions)."""
    return TASK_APIS.get(task or "", "chat")


@dataclass(frozen=True, slots=True)
class Kind:
    """What dbchat knows about how to talk to one endpoint."""

    api: str
    task: str | None
    source: str  # "task" (read from the endpoint), "setting", "default" (could not be read)


def task_of(body: bytes) -> str | None:
    """The ``task`` in an endpoint's details, None when the body has none."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    task = data.get("task") if isinstance(data, dict) else None
    return task if isinstance(task, str) and len(task) <= 64 else None


class EndpointKinds:
    """Kinds per endpoint, read once; `forget` after a schema error makes the next ask re-read."""

    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}

    def get(self, endpoint: str) -> Kind | None:
        """The cached kind, if any."""
        return self._kinds.get(endpoint)

    def put(self, endpoint: str, kind: Kind) -> None:
        """Remember ``kind`` (at most 256 endpoints: the oldest go first)."""
        if len(self._kinds) >= 256:
            self._kinds.pop(next(iter(self._kinds)))
        self._kinds[endpoint] = kind

    def forget(self, endpoint: str) -> bool:
        """Drop the cached kind; True when one was cached."""
        return self._kinds.pop(endpoint, None) is not None
