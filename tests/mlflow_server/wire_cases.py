"""The Databricks-form requests sent to the MLflow servers, and where their answers are kept.

One table for both users: tests/mlflow_server/test_mlflow_wire.py (checks the live answers
against the kept ones) and tests/mlflow_server/capture_fixtures.py (re-captures them into
tests/fixtures/wire/mlflow-*.json|.sse, each with a .meta.json sidecar).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

WIRE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "wire"
VOLATILE_KEYS = frozenset({"id", "created"})  # ChatModel responses: a fresh uuid and clock


@dataclass(frozen=True)
class WireCase:
    """One request to one server (a key of mlflow_harness.SERVERS) and its fixture stem."""

    name: str
    server: str
    body: dict[str, Any]
    path: str = "/invocations"
    volatile: frozenset[str] = frozenset()

    @property
    def stem(self) -> str:
        return f"mlflow-{self.name}"


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


_CHAT = {"messages": _user("Hi there"), "max_tokens": 64, "temperature": 0.2}
_AGENT = {"messages": _user("Where is order 7?"),
          "context": {"conversation_id": "conv-1", "user_id": "user-1"},
          "custom_inputs": {"locale": "en"}}
_RESP = {"input": _user("Where is order 7?"), "max_output_tokens": 64, "temperature": 0.2}

CASES: tuple[WireCase, ...] = (
    WireCase("chat-model", "chat_model", _CHAT, volatile=VOLATILE_KEYS),
    WireCase("chat-model-stream-true", "chat_model", {**_CHAT, "stream": True},
             volatile=VOLATILE_KEYS),
    WireCase("chat-model-tool-call", "chat_model",
             {**_CHAT, "messages": _user("What is the weather in Paris?")},
             volatile=VOLATILE_KEYS),
    WireCase("chat-agent", "chat_agent", _AGENT),
    WireCase("chat-agent-stream-true", "chat_agent", {**_AGENT, "stream": True}),
    WireCase("responses-agent", "responses_agent", _RESP),
    WireCase("responses-agent-stream-true", "responses_agent", {**_RESP, "stream": True}),
    # its message lists the extra inputs in set order (varies per run): checked on its own
    WireCase("responses-agent-messages-400", "responses_agent",
             {"messages": _user("Where is order 7?"), "max_tokens": 64},
             volatile=frozenset({"message"})),
    WireCase("agentserver-responses-stream", "responses_agent_stream", {**_RESP, "stream": True}),
    WireCase("agentserver-responses", "responses_agent_stream", _RESP),
    WireCase("agentserver-responses-route-stream", "responses_agent_stream",
             {**_RESP, "stream": True}, path="/responses"),
    WireCase("agentserver-responses-messages-400", "responses_agent_stream",
             {"messages": _user("Where is order 7?"), "stream": True}),
    WireCase("agentserver-chat-agent-stream", "chat_agent_stream", {**_AGENT, "stream": True}),
)


def send(base_url: str, case: WireCase) -> httpx.Response:
    """POST the case's body as JSON, as dbchat posts to /serving-endpoints/{name}/invocations."""
    return httpx.post(base_url + case.path, json=case.body, timeout=60.0,
                      headers={"Accept": "text/event-stream, application/json"})


def is_sse(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "text/event-stream"


def fixture_path(case: WireCase, content_type: str) -> Path:
    return WIRE_DIR / (case.stem + (".sse" if is_sse(content_type) else ".json"))


def sse_data(body: bytes) -> list[Any]:
    """The `data:` payloads of an SSE body, JSON-decoded where they are JSON (else raw text)."""
    out: list[Any] = []
    for line in body.decode("utf-8").splitlines():
        if not line.startswith("data:"):
            continue
        text = line[5:].removeprefix(" ")
        try:
            out.append(json.loads(text))
        except ValueError:
            out.append(text)
    return out


def comparable(body: bytes, content_type: str, volatile: frozenset[str]) -> Any:
    """A body in a form two captures can be compared in: parsed, volatile top-level keys dropped."""
    if is_sse(content_type):
        return sse_data(body)
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")
    if isinstance(parsed, dict):
        return {k: v for k, v in parsed.items() if k not in volatile}
    return parsed
