"""The simulator's routes, auth, answers, responders and counters, over loopback HTTP (httpx)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import httpx
import pytest

from client_helpers import http_client as client
from dbchat_magic.simulator import (
    CHAT_AGENT,
    CLAUDE,
    EMBEDDINGS,
    LLAMA,
    NOT_READY,
    REASONING,
    RESPONSES_AGENT,
    Endpoint,
    Reply,
    SimRequest,
    Simulator,
)

QUESTION = [{"role": "user", "content": "What is the revenue by region?"}]


def stream_payloads(c: httpx.Client, url: str, body: dict) -> list[str]:
    """POST with stream=true and return every ``data:`` payload in order."""
    with c.stream("POST", url, json={**body, "stream": True}) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read()
    text = raw.decode("utf-8").replace("\r\n", "\n")
    return [
        line[6:]
        for block in text.split("\n\n")
        for line in block.split("\n")
        if line.startswith("data: ")
    ]


def chunks(payloads: list[str]) -> list[dict]:
    assert payloads[-1] == "[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


def test_url_env_and_endpoint_list(sim: Simulator) -> None:
    assert sim.url == f"http://127.0.0.1:{sim.port}"
    assert sim.env() == {"DATABRICKS_HOST": sim.url, "DATABRICKS_TOKEN": "sim-token"}
    with client(sim) as c:
        listed = c.get("/api/2.0/serving-endpoints").json()["endpoints"]
        one = c.get(f"/api/2.0/serving-endpoints/{CLAUDE}").json()
        missing = c.get("/api/2.0/serving-endpoints/nope")
    by_name = {e["name"]: e for e in listed}
    assert set(by_name) == {LLAMA, CLAUDE, REASONING, EMBEDDINGS, NOT_READY, CHAT_AGENT,
                            RESPONSES_AGENT}
    assert by_name[CHAT_AGENT]["task"] == "agent/v2/chat"
    assert by_name[RESPONSES_AGENT]["task"] == "agent/v1/responses"
    assert by_name[LLAMA]["state"]["ready"] == "READY"
    assert by_name[LLAMA]["task"] == "llm/v1/chat"
    assert by_name[EMBEDDINGS]["task"] == "llm/v1/embeddings"
    assert by_name[NOT_READY]["state"]["ready"] == "NOT_READY"
    assert one["name"] == CLAUDE
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_both_url_forms_answer_the_same_deterministic_text(sim: Simulator) -> None:
    with client(sim) as c:
        a = c.post(f"/serving-endpoints/{LLAMA}/invocations", json={"messages": QUESTION})
        b = c.post(
            "/serving-endpoints/chat/completions", json={"model": LLAMA, "messages": QUESTION}
        )
    assert a.status_code == b.status_code == 200
    ja, jb = a.json(), b.json()
    text = ja["choices"][0]["message"]["content"]
    assert text == jb["choices"][0]["message"]["content"]
    assert text.startswith("Simulated answer to 'What is the revenue by region?'")
    assert ja["model"] == "meta-llama-3.3-70b-instruct-121024" != LLAMA  # served version, not name
    assert ja["choices"][0]["finish_reason"] == "stop"
    assert ja["usage"]["completion_tokens"] == 60
    assert ja["usage"]["total_tokens"] == ja["usage"]["prompt_tokens"] + 60
    assert sim.stats.requests_by_endpoint[LLAMA] == 2
    assert sim.stats.log[-1].text == text


def test_llama_stream_running_usage_role_first_stop_last(sim: Simulator) -> None:
    with client(sim) as c:
        events = chunks(stream_payloads(c, f"/serving-endpoints/{LLAMA}/invocations",
                                        {"messages": QUESTION, "reply_tokens": 12}))
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all("usage" in e for e in events)
    completions = [e["usage"]["completion_tokens"] for e in events]
    assert completions == sorted(completions) and completions[-1] == 12
    assert [e["choices"][0]["finish_reason"] for e in events[:-1]] == [None] * (len(events) - 1)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert len(events) == 1 + 12 + 1  # role, one token per event, final
    assert text == sim.stats.log[-1].text


def test_claude_stream_partial_usage_until_the_end(sim: Simulator) -> None:
    with client(sim) as c:
        events = chunks(stream_payloads(c, "/serving-endpoints/chat/completions",
                                        {"model": CLAUDE, "messages": QUESTION, "reply_tokens": 5}))
    assert events[0]["usage"]["completion_tokens"] is None
    assert events[0]["usage"]["prompt_tokens"] > 0
    assert all("usage" not in e for e in events[1:-1])
    assert events[-1]["usage"]["completion_tokens"] == 5
    assert events[-1]["model"] == "claude-3-7-sonnet-20250219"


def test_reasoning_endpoint_streams_blocks_reasoning_first(sim: Simulator) -> None:
    with client(sim) as c:
        events = chunks(stream_payloads(c, f"/serving-endpoints/{REASONING}/invocations",
                                        {"messages": QUESTION, "reply_tokens": 6}))
        whole = c.post(f"/serving-endpoints/{REASONING}/invocations", json={"messages": QUESTION})
    blocks = [b for e in events[1:-1] for b in e["choices"][0]["delta"]["content"]]
    kinds = [b["type"] for b in blocks]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")
    assert {"reasoning", "text"} <= set(kinds)
    reasoning = "".join(b["summary"][0]["text"] for b in blocks if b["type"] == "reasoning")
    assert reasoning.startswith("The user asks about What is the revenue")
    content = whole.json()["choices"][0]["message"]["content"]
    assert [b["type"] for b in content] == ["reasoning", "text"]


def test_auth_missing_wrong_and_disabled(sim: Simulator) -> None:
    body = {"messages": QUESTION}
    with client(sim, token=None) as c:
        missing = c.post(f"/serving-endpoints/{LLAMA}/invocations", json=body)
    with client(sim, token="wrong") as c:
        wrong = c.post(f"/serving-endpoints/{LLAMA}/invocations", json=body)
        listing = c.get("/api/2.0/serving-endpoints")
    assert missing.status_code == 401
    assert missing.json()["error_code"] == "UNAUTHENTICATED"
    assert wrong.status_code == 403 and listing.status_code == 403
    assert wrong.json() | {"details": None} == {
        "error_code": "PERMISSION_DENIED", "message": "Invalid access token.", "details": None}
    with Simulator(token=None) as open_sim, client(open_sim, token=None) as c:
        assert c.post(f"/serving-endpoints/{LLAMA}/invocations", json=body).status_code == 200


def test_last_headers_redact_the_token_and_keep_the_body(sim: Simulator) -> None:
    with client(sim) as c:
        c.post(f"/serving-endpoints/{LLAMA}/invocations",
               json={"messages": QUESTION, "temperature": 0.2}, headers={"X-Trace": "t1"})
    assert sim.stats.last_headers["authorization"] == "Bearer <redacted>"
    assert sim.token not in json.dumps(sim.stats.last_headers)
    assert sim.stats.last_headers["x-trace"] == "t1"
    assert sim.stats.last_body == {"messages": QUESTION, "temperature": 0.2}


@pytest.mark.parametrize(
    ("url", "body", "status", "code", "fragment"),
    [
        ("/serving-endpoints/nope/invocations", {"messages": QUESTION}, 404,
         "RESOURCE_DOES_NOT_EXIST", "Endpoint with name 'nope' does not exist."),
        ("/serving-endpoints/chat/completions", {"model": "gone", "messages": QUESTION}, 404,
         "RESOURCE_DOES_NOT_EXIST", "Endpoint with name 'gone' does not exist."),
        ("/serving-endpoints/chat/completions", {"messages": QUESTION}, 400, "BAD_REQUEST",
         "model"),
        (f"/serving-endpoints/{NOT_READY}/invocations", {"messages": QUESTION}, 400, "BAD_REQUEST",
         "not ready"),
        (f"/serving-endpoints/{EMBEDDINGS}/invocations", {"messages": QUESTION}, 400, "BAD_REQUEST",
         "llm/v1/embeddings"),
        (f"/serving-endpoints/{LLAMA}/invocations", {"messages": []}, 400, "BAD_REQUEST",
         "messages"),
        (f"/serving-endpoints/{LLAMA}/invocations", {"messages": [{"content": "x"}]}, 400,
         "BAD_REQUEST", "role"),
    ],
)
def test_refusals_in_databricks_error_shape(sim, url, body, status, code, fragment) -> None:
    with client(sim) as c:
        r = c.post(url, json=body)
    assert r.status_code == status
    payload = r.json()
    assert payload["error_code"] == code
    assert fragment in payload["message"]
    assert payload["details"][0]["request_id"]


def test_unknown_route_and_non_json_body(sim: Simulator) -> None:
    with client(sim) as c:
        nowhere = c.get("/api/2.0/clusters/list")
        garbage = c.post(f"/serving-endpoints/{LLAMA}/invocations", content=b"{not json")
    assert nowhere.status_code == 404 and nowhere.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert garbage.status_code == 400 and "JSON" in garbage.json()["message"]


def test_script_responder_reply_tokens_and_max_tokens(sim: Simulator) -> None:
    sim.script("revenue", "Revenue is up 5%.")
    sim.script("churn", Reply("Churn fell.", reasoning="Compare months."))
    url = f"/serving-endpoints/{LLAMA}/invocations"
    with client(sim) as c:
        scripted = c.post(url, json={"messages": QUESTION}).json()
        other = c.post(url, json={"messages": [{"role": "user", "content": "hello"}],
                                  "reply_tokens": 300}).json()
        cut = c.post(url, json={"messages": [{"role": "user", "content": "hello"}],
                                "reply_tokens": 300, "max_tokens": 7}).json()
        churn = c.post(url, json={"messages": [{"role": "user", "content": "churn?"}]}).json()
    assert scripted["choices"][0]["message"]["content"] == "Revenue is up 5%."
    assert other["usage"]["completion_tokens"] == 300
    assert cut["usage"]["completion_tokens"] == 7
    assert cut["choices"][0]["finish_reason"] == "length"
    cut_text = cut["choices"][0]["message"]["content"]
    assert other["choices"][0]["message"]["content"].startswith(cut_text)
    assert churn["choices"][0]["message"]["content"][1] == {"type": "text", "text": "Churn fell."}


def test_custom_responder_sees_the_request() -> None:
    seen: list[SimRequest] = []

    def echo(request: SimRequest) -> str:
        seen.append(request)
        return f"echo: {request.last_user_message}"

    endpoints = [Endpoint("mine", model="mine-v1")]
    with Simulator(responder=echo, endpoints=endpoints) as sim, client(sim) as c:
        r = c.post("/serving-endpoints/mine/invocations",
                   json={"messages": [{"role": "system", "content": "be brief"}, *QUESTION]})
    assert r.json()["choices"][0]["message"]["content"] == "echo: What is the revenue by region?"
    assert seen[0].endpoint == "mine" and seen[0].messages[0]["role"] == "system"
    assert seen[0].headers["authorization"].startswith("Bearer ")


def test_responder_failure_is_a_500_with_a_message() -> None:
    def broken(request: SimRequest) -> str:
        raise KeyError("no such frame")

    with Simulator(responder=broken) as sim, client(sim) as c:
        r = c.post(f"/serving-endpoints/{LLAMA}/invocations", json={"messages": QUESTION})
    assert r.status_code == 500 and "no such frame" in r.json()["message"]


def test_keep_alive_reuses_one_connection_and_reset_stats(sim: Simulator) -> None:
    with client(sim) as c:
        for i in range(5):
            stream_payloads(c, f"/serving-endpoints/{LLAMA}/invocations", {"messages": QUESTION})
            c.post(f"/serving-endpoints/{CLAUDE}/invocations", json={"messages": QUESTION})
            assert c.get("/api/2.0/serving-endpoints").status_code == 200, i
    assert sim.stats.connections_opened == 1
    assert sim.stats.requests == 15
    assert sim.stats.requests_by_endpoint == {LLAMA: 5, CLAUDE: 5}
    assert [e.connection for e in sim.stats.log] == [1] * 15
    sim.reset_stats()
    assert (sim.stats.requests, sim.stats.connections_opened, sim.stats.log) == (0, 0, [])
    assert sim.stats.last_body is None


def test_connection_close_is_honoured(sim: Simulator) -> None:
    with client(sim) as c:
        for _ in range(3):
            r = c.post(f"/serving-endpoints/{LLAMA}/invocations", json={"messages": QUESTION},
                       headers={"Connection": "close"})
            assert r.headers["connection"] == "close"
    assert sim.stats.connections_opened == 3


def test_oauth_m2m_token(sim: Simulator) -> None:
    with httpx.Client(base_url=sim.url) as c:
        good = c.post("/oidc/v1/token", data={"grant_type": "client_credentials",
                                             "scope": "all-apis"}, auth=sim.oauth_client)
        bad = c.post("/oidc/v1/token", data={"grant_type": "client_credentials"},
                     auth=("sim-client", "nope"))
    assert good.status_code == 200 and good.json()["access_token"] == sim.token
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"


def test_start_stop_and_port_in_use() -> None:
    sim = Simulator().start()
    port = sim.port
    with pytest.raises(OSError), Simulator(port=port):
        pass
    sim.stop()
    sim.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        _ = sim.url
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port is free again


def test_command_line_runs_a_server() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbchat_magic.simulator", "--port", "0", "--reply-tokens", "4"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        host = proc.stdout.readline().strip().removeprefix("DATABRICKS_HOST=")
        token = proc.stdout.readline().strip().removeprefix("DATABRICKS_TOKEN=")
        r = httpx.post(f"{host}/serving-endpoints/{LLAMA}/invocations", json={"messages": QUESTION},
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.json()["usage"]["completion_tokens"] == 4
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_stats_route_chunked_request_body_and_size_limit(sim: Simulator) -> None:
    def chunked_body():
        yield json.dumps({"messages": QUESTION, "reply_tokens": 3}).encode()

    with client(sim) as c:
        chunked = c.post(f"/serving-endpoints/{LLAMA}/invocations", content=chunked_body())
        big = c.post(f"/serving-endpoints/{LLAMA}/invocations",
                     json={"messages": [{"role": "user", "content": "x" * (4 * 1024 * 1024)}]})
        after = c.post(f"/serving-endpoints/{LLAMA}/invocations", json={"messages": QUESTION})
        stats = httpx.get(f"{sim.url}/_sim/stats").json()
    assert chunked.status_code == 200 and chunked.json()["usage"]["completion_tokens"] == 3
    assert big.status_code == 400 and "4 MB" in big.json()["message"]
    assert after.status_code == 200  # the connection survived the refused body
    assert stats["requests"] == 3 and stats["requests_by_endpoint"] == {LLAMA: 3}
    assert stats["log"][0]["text"] == chunked.json()["choices"][0]["message"]["content"]


def test_endpoints_given_by_name_are_llama_style_chat() -> None:
    with Simulator(endpoints=["a", Endpoint("b", style="claude")]) as sim, client(sim) as c:
        names = [e["name"] for e in c.get("/api/2.0/serving-endpoints").json()["endpoints"]]
        events = chunks(stream_payloads(c, "/serving-endpoints/a/invocations",
                                        {"messages": QUESTION, "reply_tokens": 2}))
    assert names == ["a", "b"]
    assert all(e["usage"]["completion_tokens"] is not None for e in events)


def test_command_line_without_auth_and_with_chunking() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbchat_magic.simulator", "--no-auth", "--chunking", "many",
         "--tokens-per-second", "2000"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        host = proc.stdout.readline().strip().removeprefix("DATABRICKS_HOST=")
        assert proc.stdout.readline().startswith("endpoints: ")  # no token line
        with httpx.Client(base_url=host, timeout=10) as c, c.stream(
            "POST", f"/serving-endpoints/{LLAMA}/invocations",
            json={"messages": QUESTION, "stream": True, "reply_tokens": 24},
        ) as r:
            pieces = list(r.iter_raw())
        assert r.status_code == 200
        assert max(p.count(b"\n\n") for p in pieces) == 8
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "dbchat_magic.simulator", "--chunking", "lumpy"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
