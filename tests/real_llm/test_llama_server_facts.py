"""What this llama.cpp server (llama-cpp-python 0.3.36) does, spoken to with plain httpx.

Issue 12's design relies on these facts (docs/notes/real-llm-harness.md); a new server version
that changes one fails here first, with the fact named, instead of somewhere in the client tests.
"""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from llama_probe import COLOURS, eos_token_id

pytestmark = pytest.mark.real_llm


def _chat(url: str, **body):
    body = {"model": "smollm2", "messages": COLOURS, "temperature": 0, "max_tokens": 4, **body}
    return httpx.post(url, json=body, timeout=120)


def test_the_server_does_not_say_its_context_window(llama):
    """No ``/props`` (that is llama.cpp's own llama-server) and no ``n_ctx`` / ``max_model_len``
    in ``/v1/models``: the context size has to come from a setting."""
    models = httpx.get(f"{llama.base_url}/models", timeout=30).json()
    assert models == {"object": "list", "data": [
        {"id": "smollm2", "object": "model", "owned_by": "me", "permissions": []}]}
    for path in ("/props", "/v1/props", "/slots"):
        assert httpx.get(f"{llama.root_url}{path}", timeout=30).status_code == 404, path


def test_an_oversized_prompt_streams_an_empty_200_and_is_a_400_unstreamed(llama):
    long = [{"role": "user", "content": "word " * 3000}]  # ~3,000 tokens > n_ctx 2,048
    streamed = _chat(f"{llama.base_url}/chat/completions", messages=long, stream=True)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.content == b""
    plain = _chat(f"{llama.base_url}/chat/completions", messages=long)
    assert plain.status_code == 400
    error = plain.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "maximum context length is 2048 tokens" in error["message"]


def test_routes_live_under_v1_only(llama):
    """The base URL is ``…/v1``; the bare root has neither a chat route nor a model list."""
    assert _chat(f"{llama.root_url}/chat/completions").status_code == 404
    assert httpx.get(f"{llama.root_url}/models", timeout=30).status_code == 404
    assert _chat(f"{llama.base_url}/chat/completions").status_code == 200


def test_any_model_name_is_answered(llama):
    """One model per server: ``model`` is not checked, only echoed (a typo is not an error)."""
    resp = _chat(f"{llama.base_url}/chat/completions", model="no/such-model")
    assert resp.status_code == 200 and resp.json()["model"] == "no/such-model"


def test_a_second_request_ends_a_running_stream_with_done_and_no_finish_reason(llama):
    """``interrupt_requests`` (on by default): a new request cuts the streaming one short with
    ``[DONE]`` but no ``finish_reason`` chunk, then drops its connection mid-body."""
    no_end = {str(eos_token_id(llama)): -100}

    async def overlap():
        seen: list[bytes] = []
        async with httpx.AsyncClient(timeout=120) as http:
            async def first() -> None:
                body = {"model": "smollm2", "messages": COLOURS, "temperature": 0,
                        "max_tokens": 1500, "stream": True, "logit_bias": no_end}
                try:
                    async with http.stream("POST", f"{llama.base_url}/chat/completions",
                                           json=body) as resp:
                        async for line in resp.aiter_lines():
                            seen.append(line.encode())
                except httpx.RemoteProtocolError:
                    seen.append(b"<dropped>")

            task = asyncio.create_task(first())
            async def streaming() -> None:
                while sum(line.startswith(b"data: {") for line in seen) < 5:
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(streaming(), 60)
            second = await http.post(f"{llama.base_url}/chat/completions", json={
                "model": "smollm2", "messages": COLOURS, "max_tokens": 2})
            await task
        return seen, second

    seen, second = asyncio.run(overlap())
    assert second.status_code == 200
    chunks = [orjson.loads(line[6:]) for line in seen if line.startswith(b"data: {")]
    assert b"data: [DONE]" in seen and seen[-1] == b"<dropped>"
    assert len(chunks) < 1500 and not any(c["choices"][0]["finish_reason"] for c in chunks)
