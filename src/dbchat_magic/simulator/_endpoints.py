"""The serving endpoints a simulator knows, and the default set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Style = Literal["llama", "claude", "reasoning"]

LLAMA = "databricks-meta-llama-3-3-70b-instruct"
CLAUDE = "databricks-claude-3-7-sonnet"
REASONING = "databricks-gpt-oss-120b"
EMBEDDINGS = "databricks-gte-large-en"
NOT_READY = "dbchat-finetuned-not-ready"


@dataclass(frozen=True)
class Endpoint:
    """One serving endpoint: its name, task, ready state, wire style and served model version.

    ``style`` picks the chunk shape: ``llama`` (running usage on every chunk), ``claude`` (partial
    usage with ``completion_tokens: null`` until the end) or ``reasoning`` (content as blocks).
    """

    name: str
    task: str = "llm/v1/chat"
    ready: bool = True
    style: Style = "llama"
    model: str = "meta-llama-3.3-70b-instruct-121024"

    @property
    def is_chat(self) -> bool:
        """True when the endpoint serves chat completions."""
        return self.task == "llm/v1/chat"

    def as_json(self) -> dict[str, object]:
        """The endpoint as ``GET /api/2.0/serving-endpoints`` lists it."""
        return {
            "name": self.name,
            "creator": "simulator@example.com",
            "state": {
                "ready": "READY" if self.ready else "NOT_READY",
                "config_update": "NOT_UPDATING",
            },
            "task": self.task,
            "endpoint_type": "FOUNDATION_MODEL_API",
        }


DEFAULT_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(LLAMA, style="llama", model="meta-llama-3.3-70b-instruct-121024"),
    Endpoint(CLAUDE, style="claude", model="claude-3-7-sonnet-20250219"),
    Endpoint(REASONING, style="reasoning", model="gpt-oss-120b-080525"),
    Endpoint(EMBEDDINGS, task="llm/v1/embeddings", model="gte-large-en-v1.5"),
    Endpoint(NOT_READY, ready=False, model="llama-3-1-8b-ft-v3"),
)


def coerce_endpoints(endpoints: object) -> dict[str, Endpoint]:
    """Build the name → `Endpoint` map from `Endpoint`s, names (Llama-style chat) or None."""
    if endpoints is None:
        return {e.name: e for e in DEFAULT_ENDPOINTS}
    out: dict[str, Endpoint] = {}
    for item in endpoints:  # type: ignore[attr-defined]
        ep = Endpoint(item) if isinstance(item, str) else item
        if not isinstance(ep, Endpoint):
            raise TypeError(
                f"endpoints must be names or Endpoint objects, not {type(item).__name__}"
            )
        out[ep.name] = ep
    return out
