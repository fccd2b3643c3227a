"""Client-side rate limits over loopback; servers that answer plain JSON, redirect or send HTML."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client_helpers import QUESTION, ask, client_for
from dbchat_magic.client import ChatClient
from dbchat_magic.config import Settings
from dbchat_magic.simulator import Simulator


def test_requests_per_minute_fail_fast(sim: Simulator) -> None:
    client = client_for(sim, rate_limit_rpm=2, rate_limit_mode="fail")

    async def go() -> list:
        try:
            return [await client.complete(QUESTION) for _ in range(3)]
        finally:
            await client.aclose()
    first, second, third = asyncio.run(go())
    assert first.ok and second.ok
    assert third.status == "failed" and sim.stats.requests == 2  # the third never left
    assert third.error.startswith("client-side rate limit for endpoint")
    assert "2 requests/minute" in third.error and "rate_limit_mode='fail'" in third.error


def test_tokens_per_minute_counts_real_usage(sim: Simulator) -> None:
    # Each answer uses ~70 tokens (the server's count, settled after the stream); the third
    # request no longer fits a 150 tokens/minute budget.
    client = client_for(sim, rate_limit_tpm=150, rate_limit_mode="fail")

    async def go() -> list:
        try:
            return [await client.complete(QUESTION) for _ in range(3)]
        finally:
            await client.aclose()
    results = asyncio.run(go())
    assert [r.status for r in results] == ["completed", "completed", "failed"]
    assert results[0].usage.total_tokens > 60
    assert "150 tokens/minute" in results[2].error


def test_wait_mode_delays_instead_of_failing(sim: Simulator) -> None:
    client = client_for(sim, rate_limit_rpm=1)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:  # a minute-long wait, recorded not spent
        slept.append(seconds)
        client._limiter._clock = lambda: time.monotonic() + 61  # type: ignore[union-attr]

    client._limiter._sleep = fake_sleep  # type: ignore[union-attr]

    async def go() -> list:
        try:
            return [await client.complete(QUESTION) for _ in range(2)]
        finally:
            await client.aclose()
    assert [r.status for r in asyncio.run(go())] == ["completed", "completed"]
    assert len(slept) == 1 and 55 < slept[0] <= 60


class _JsonOnly(BaseHTTPRequestHandler):
    """A server that ignores ``stream`` and answers one JSON completion (some proxies do)."""

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        reply = {"model": "plain-1", "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": f"{len(body['messages'])} msg"}}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # an OpenAI-style model list (vLLM: ``/v1/models``)
        data = json.dumps({"object": "list", "data": [{"id": "m-b"}, {"id": "m-a"}]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def json_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JsonOnly)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_plain_json_answer_is_accepted(json_server: str) -> None:
    r = ask(ChatClient(Settings(host=json_server), token="t"))
    assert (r.status, r.text, r.model, r.finish_reason) == ("completed", "1 msg", "plain-1", "stop")
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.estimated) == (3, 2, False)


class _Odd(BaseHTTPRequestHandler):
    """A misconfigured host: a login redirect, or a 200 HTML page."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if "login" in self.path or self.path.startswith("/r/"):
            self.send_response(302)
            self.send_header("Location", "https://login.example.com/sso?next=x")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        page = b"<html><body>Sign in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        return None


def test_redirects_and_html_pages_point_at_the_host() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        r = ask(ChatClient(Settings(host=base + "/r", url_style="openai"), token="t"))
        assert r.status == "failed"
        assert r.error.startswith(f"{base}/r redirected the request (HTTP 302) to "
                                  "https://login.example.com/sso?next=x: check the host")
        r = ask(ChatClient(Settings(host=base), token="t"))
        assert r.status == "failed" and "HTML page instead of a stream" in r.error
    finally:
        server.shutdown()
        server.server_close()


def test_openai_style_model_list(json_server: str) -> None:
    client = ChatClient(Settings(host=json_server + "/v1", url_style="openai"), token="t")

    async def go() -> list:
        try:
            return await client.list_endpoints()
        finally:
            await client.aclose()
    assert [(e.name, e.ready, e.task) for e in asyncio.run(go())] == [
        ("m-b", True, "llm/v1/chat"), ("m-a", True, "llm/v1/chat")]
