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
CHAT_AGENT = "dbchat-chat-agent"
RESPONSES_AGENT = "dbchat-responses-agent"

_APIS = {"llm/v1/chat": "chat", "agent/v1/chat": "chat", "agent/v2/chat": "agent-chat",
         "agent/v1/responses": "responses"}


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
    tools: bool = False  # an agent that calls a tool (lookup_order) before it answers

    @property
    def is_chat(self) -> bool:
        """True when the endpoint answers chat questions (a chat model or an agent)."""
        return self.task in _APIS

    @property
    def api(self) -> str:
        """The request and answer shape its task takes: chat, agent-chat or responses."""
        return _APIS.get(self.task, "chat")

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
            "endpoint_type": "FOUNDATION_MODEL_API" if self.task.startswith("llm/")
            else "CUSTOM_MODEL",
        }


DEFAULT_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(LLAMA, style="llama", model="meta-llama-3.3-70b-instruct-121024"),
    Endpoint(CLAUDE, style="claude", model="claude-3-7-sonnet-20250219"),
    Endpoint(REASONING, style="reasoning", model="gpt-oss-120b-080525"),
    Endpoint(EMBEDDINGS, task="llm/v1/embeddings", model="gte-large-en-v1.5"),
    Endpoint(NOT_READY, ready=False, model="llama-3-1-8b-ft-v3"),
    Endpoint(CHAT_AGENT, task="agent/v2/chat", model="dbchat-chat-agent-v1", tools=True),
    Endpoint(RESPONSES_AGENT, task="agent/v1/responses", model="dbchat-responses-agent-v1",
             tools=True),
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
