"""Today's `ChatClient` against a real llama.cpp server (SmolLM2-135M on the CPU) over loopback.

Settings are what a user writes today for an OpenAI-compatible server: ``url_style="openai"``,
``host`` ending in ``/v1``, the ``--model_alias`` as endpoint, and a placeholder token (the client
insists on one; the server needs none). Answers are short (max_tokens ≤ 24, except the Stop test).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import orjson
import pytest
from llama_probe import (
    COLOURS,
    PLACEHOLDER_TOKEN,
    async_wait_for,
    eos_token_id,
    own_connections,
    reference,
    same_cache_state,
    settings_for,
    wait_for,
)

from dbchat_magic.client import ChatClient, ChatResult, EndpointInfo
from dbchat_magic.tokens import estimate_tokens
from dbchat_magic.ui import format_metrics

pytestmark = pytest.mark.real_llm
BUSY_TICKS = 30  # server CPU (1/100 s) to see while it generates before ■: ~15-30 tokens


async def _ask(settings, messages, **params) -> ChatResult:
    client = ChatClient(settings, token=PLACEHOLDER_TOKEN)
    try:
        return await client.complete(messages, **params)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def colours(llama):
    """One streamed answer through the client and the server's non-streamed reference."""
    same_cache_state(llama, COLOURS)
    ref = reference(llama, COLOURS, max_tokens=24)
    same_cache_state(llama, COLOURS)
    result = asyncio.run(_ask(settings_for(llama, max_tokens=24), COLOURS))
    return result, ref


def test_streamed_text_equals_the_non_streamed_answer(colours):
    result, ref = colours
    assert result.status == "completed", result.error
    choice = ref["choices"][0]
    assert result.text == choice["message"]["content"] and result.text.strip()
    assert result.finish_reason == choice["finish_reason"]
    assert result.model == "smollm2"


def test_usage_is_estimated_and_marked(colours, llama):
    result, ref = colours
    stream = httpx.post(f"{llama.base_url}/chat/completions", timeout=120, json={
        "model": "smollm2", "messages": COLOURS, "temperature": 0, "max_tokens": 8,
        "stream": True, "stream_options": {"include_usage": True}})
    chunks = [orjson.loads(line[6:]) for line in stream.text.splitlines()
              if line.startswith("data: {")]
    assert chunks and not any(c.get("usage") for c in chunks)  # why the client must estimate
    usage = result.usage
    assert usage.estimated
    assert usage.completion_tokens == estimate_tokens(result.text)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    real = ref["usage"]["completion_tokens"]
    assert real / 4 <= usage.completion_tokens <= real * 4  # an estimate, not a made-up number
    footer = format_metrics(result)
    assert f"≈{usage.completion_tokens} tokens" in footer and "tok/s" in footer, footer


def test_the_model_list_names_the_alias(llama):
    async def listing():
        client = ChatClient(settings_for(llama), token=PLACEHOLDER_TOKEN)
        try:
            return await client.list_endpoints()
        finally:
            await client.aclose()

    assert asyncio.run(listing()) == [EndpointInfo("smollm2", True, "llm/v1/chat")]


def test_twenty_questions_share_one_connection(llama):
    mark = llama.log_size()

    async def twenty():
        client = ChatClient(settings_for(llama, max_tokens=2), token=PLACEHOLDER_TOKEN)
        try:
            return [await client.complete([{"role": "user", "content": f"What is {n} + {n}?"}])
                    for n in range(20)]
        finally:
            await client.aclose()

    results = asyncio.run(twenty())
    assert [r.status for r in results] == ["completed"] * 20, [r.error for r in results]
    assert all(r.text for r in results)
    posts = [a for a in llama.access_log(mark) if a.path == "/v1/chat/completions"]
    assert [a.status for a in posts] == [200] * 20
    ports = {a.client_port for a in posts}
    assert len(ports) == 1, f"the server saw {len(ports)} client connections: {sorted(ports)}"


def test_stop_closes_the_connection_and_generation_stops(llama, record_property):
    """■ (cancelling the task) mid-answer: the socket closes, the server logs the disconnect and
    its CPU time goes flat. No clock in the verdict: the quiet window is at least twice as long as
    the busy one, and "flat" means under a quarter of what the busy rate would have used in it."""
    story = [{"role": "user", "content": "Tell me a very long story about a lighthouse keeper."}]
    no_end = {str(eos_token_id(llama)): -100}  # no natural end before max_tokens
    mark = llama.log_size()

    async def stop_mid_answer():
        client = ChatClient(settings_for(llama, max_tokens=1500), token=PLACEHOLDER_TOKEN)
        result = ChatResult()
        task = asyncio.create_task(client.complete(story, result=result, logit_bias=no_end))
        await async_wait_for(lambda: result.text, "the first words of the answer")
        open_before = own_connections(llama.port)
        t0, ticks0 = time.monotonic(), llama.cpu_ticks()
        await async_wait_for(lambda: llama.cpu_ticks() - ticks0 >= BUSY_TICKS, "server CPU")
        busy = (time.monotonic() - t0, llama.cpu_ticks() - ticks0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        open_after = own_connections(llama.port)
        await client.aclose()
        return result, open_before, open_after, busy

    result, open_before, open_after, (busy_s, busy_ticks) = asyncio.run(stop_mid_answer())
    assert result.status == "stopped" and result.text and result.error is None
    assert len(open_before) == 1 and open_after == [], (open_before, open_after)
    wait_for(lambda: f"port={open_before[0]})" in llama.log_since(mark),
             "the server logging the disconnect of our connection")
    window = min(max(2.0, 2 * busy_s), 20.0)
    ticks0 = llama.cpu_ticks()
    time.sleep(window)
    quiet_ticks = llama.cpu_ticks() - ticks0
    would_have_used = busy_ticks * window / busy_s
    for name, value in (("busy_ticks", busy_ticks), ("busy_s", round(busy_s, 2)),
                        ("quiet_ticks", quiet_ticks), ("quiet_s", round(window, 2))):
        record_property(name, value)  # junit xml
    assert quiet_ticks < would_have_used / 4, (
        f"server used {quiet_ticks} ticks in {window:.1f} s after ■; while generating it used "
        f"{busy_ticks} in {busy_s:.1f} s")
