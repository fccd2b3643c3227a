"""What MLflow's own servers answer to Databricks `/invocations` bodies (plain httpx, no client).

Each case in wire_cases.CASES is sent to a real MLflow server on loopback and compared with the
answer kept in tests/fixtures/wire/mlflow-*.{json,sse} (volatile `id`/`created` aside), so the
kept fixtures stay true to the pinned MLflow. Re-capture with capture_fixtures.py after an upgrade.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from mlflow_harness import MlflowServer
from wire_cases import CASES, WIRE_DIR, WireCase, comparable, is_sse, send, sse_data


def _kept(case: WireCase) -> tuple[dict, bytes]:
    meta = json.loads((WIRE_DIR / f"{case.stem}.meta.json").read_text(encoding="utf-8"))
    suffix = ".sse" if is_sse(meta["content_type"]) else ".json"
    return meta, (WIRE_DIR / f"{case.stem}{suffix}").read_bytes()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_live_answer_matches_kept_fixture(
    case: WireCase, mlflow_servers: Callable[[str], MlflowServer],
    record_property: Callable[[str, object], None],
) -> None:
    server = mlflow_servers(case.server)
    record_property(f"{case.server}_start_seconds", round(server.start_seconds, 2))
    meta, kept = _kept(case)
    response = send(server.base_url, case)
    content_type = response.headers.get("content-type", "")
    assert response.status_code == meta["status"]
    assert content_type == meta["content_type"]
    assert comparable(response.content, content_type, case.volatile) == \
        comparable(kept, meta["content_type"], case.volatile)


@pytest.mark.parametrize("name", ["chat_model", "chat_agent", "responses_agent"])
def test_scoring_server_answers_stream_true_with_one_json_body(
    name: str, mlflow_servers: Callable[[str], MlflowServer]
) -> None:
    """`mlflow models serve` never streams: `stream: true` still gets one application/json body."""
    server = mlflow_servers(name)
    case = next(c for c in CASES if c.server == name and c.body.get("stream") is True)
    response = send(server.base_url, case)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json(), dict)
    assert not response.content.startswith(b"data:")


def test_responses_agent_rejects_messages_with_reason_late_in_a_long_message(
    mlflow_servers: Callable[[str], MlflowServer],
) -> None:
    """A `messages` body gets 400 INVALID_PARAMETER_VALUE; the reason sits past character 200."""
    case = next(c for c in CASES if c.name == "responses-agent-messages-400")
    body = send(mlflow_servers(case.server).base_url, case).json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    reason_at = body["message"].index("Model is missing inputs ['input']")
    assert reason_at > 200


def test_agentserver_responses_stream_shape(mlflow_servers: Callable[[str], MlflowServer]) -> None:
    """AgentServer streams: items and text deltas, response.completed with usage, then [DONE]."""
    case = next(c for c in CASES if c.name == "agentserver-responses-stream")
    response = send(mlflow_servers(case.server).base_url, case)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_data(response.content)
    assert events[-1] == "[DONE]"
    assert response.content.endswith(b"data: [DONE]\n\n")
    kinds = [e["type"] for e in events[:-1]]
    assert kinds.count("response.output_text.delta") > 1
    items = [e["item"]["type"] for e in events[:-1] if e["type"] == "response.output_item.done"]
    assert items == ["reasoning", "function_call", "function_call_output", "message"]
    text = "".join(e["delta"] for e in events[:-1] if e["type"] == "response.output_text.delta")
    assert text == "Order 7 has shipped. You asked: Where is order 7?"
    assert events[-2]["type"] == "response.completed"
    assert events[-2]["response"]["usage"]["output_tokens"] == 9


def test_agentserver_chat_agent_stream_shape(
    mlflow_servers: Callable[[str], MlflowServer],
) -> None:
    """ChatAgent chunks arrive as `data: {"delta": …}`: tool call, tool result, text by id."""
    case = next(c for c in CASES if c.name == "agentserver-chat-agent-stream")
    events = sse_data(send(mlflow_servers(case.server).base_url, case).content)
    deltas = [e["delta"] for e in events[:-1]]
    assert deltas[0]["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert deltas[1]["role"] == "tool"
    final = "".join(d["content"] for d in deltas if d["id"] == "msg_final")
    assert final.startswith("Order 7 has shipped. You asked: Where is order 7?")
    assert "conversation=conv-1" in final and '"locale": "en"' in final
    assert events[-2]["usage"]["total_tokens"] == 24


@pytest.mark.parametrize("name", ["chat_model", "responses_agent_stream"])
def test_health_routes(name: str, mlflow_servers: Callable[[str], MlflowServer]) -> None:
    """Scoring server: /ping, /health, /version; AgentServer: /health and /agent/info."""
    base = mlflow_servers(name).base_url
    if name == "chat_model":
        assert httpx.get(base + "/ping").status_code == 200
        assert httpx.get(base + "/health").status_code == 200
        assert httpx.get(base + "/version").text.count(".") == 2
    else:
        assert httpx.get(base + "/health").json() == {"status": "healthy"}
        assert httpx.get(base + "/agent/info").json()["agent_api"] == "responses"
