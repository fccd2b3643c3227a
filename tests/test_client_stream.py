"""ChatClient against the simulator over loopback: the happy path, both URL styles, the request
body, events, usage and metrics, connection reuse, and the endpoint list."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

import pytest

from client_helpers import QUESTION, ask, client_for, expected_text
from dbchat_magic.client import (
    ChatClient,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    UsageUpdate,
)
from dbchat_magic.config import Settings
from dbchat_magic.simulator import Gate, Simulator, tokenize
from waiting import until


def test_complete_fills_text_usage_metrics_and_model(sim: Simulator) -> None:
    r = ask(client_for(sim))
    assert r.status == "completed" and r.ok and r.error is None
    assert r.text == expected_text(sim) and len(r.text) > 50
    assert r.finish_reason == "stop"
    assert r.model and r.model != r.endpoint  # the served model version, not the endpoint name
    assert r.endpoint == Settings().endpoint
    assert r.usage.completion_tokens == sim.reply_tokens and not r.usage.estimated
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    m = r.metrics
    assert m.time_to_first_token is not None and m.total_time is not None
    assert 0 < m.time_to_first_token <= m.total_time
    assert m.tokens_per_second and m.tokens_per_second > 0 and m.retries == 0


def test_stream_yields_typed_events_in_order(sim: Simulator) -> None:
    async def go() -> list[object]:
        client = client_for(sim)
        try:
            return [ev async for ev in client.stream(QUESTION, max_tokens=20)]
        finally:
            await client.aclose()
    events = asyncio.run(go())
    assert isinstance(events[-1], StreamEnd) and events[-1].status == "completed"
    assert events[-1].finish_reason == "length"  # max_tokens=20 < the 60-token reply
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == expected_text(sim)
    usage = [e for e in events if isinstance(e, UsageUpdate)]
    assert usage[-1].completion_tokens == 20


def test_request_body_and_headers(sim: Simulator) -> None:
    client = client_for(sim, temperature=0.3, max_tokens=77)
    ask(client, top_p=0.9, stop=None, endpoint="databricks-claude-3-7-sonnet")
    entry = sim.stats.log[-1]
    assert entry.path == "/serving-endpoints/databricks-claude-3-7-sonnet/invocations"
    body = sim.stats.last_body
    assert body == {"messages": QUESTION, "temperature": 0.3, "max_tokens": 77, "top_p": 0.9,
                    "stream": True}  # None-valued params are left out; no stream_options
    headers = sim.stats.last_headers
    assert headers["authorization"] == "Bearer <redacted>"
    assert headers["accept"] == "text/event-stream"


def test_openai_url_style(sim: Simulator) -> None:
    r = ask(client_for(sim, url_style="openai"), temperature=0.0)
    assert r.status == "completed" and r.text == expected_text(sim)
    assert sim.stats.log[-1].path == "/serving-endpoints/chat/completions"
    assert sim.stats.last_body["model"] == Settings().endpoint
    assert sim.stats.last_body["temperature"] == 0.0


def test_claude_partial_usage_does_not_overwrite_numbers(sim: Simulator) -> None:
    r = ask(client_for(sim), endpoint="databricks-claude-3-7-sonnet")
    assert r.status == "completed"
    assert r.usage.prompt_tokens and r.usage.completion_tokens == sim.reply_tokens
    assert not r.usage.estimated


def test_reasoning_endpoint_blocks(sim: Simulator) -> None:
    async def go() -> list[object]:
        client = client_for(sim)
        try:
            return [e async for e in client.stream(QUESTION, endpoint="databricks-gpt-oss-120b")]
        finally:
            await client.aclose()
    events = asyncio.run(go())
    entry = sim.stats.log[-1]
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == entry.reasoning
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == entry.text
    assert entry.reasoning and entry.text


def test_twenty_questions_use_one_connection(sim: Simulator) -> None:
    client = client_for(sim)

    async def go() -> list[str]:
        try:
            return [(await client.complete(QUESTION)).status for _ in range(20)]
        finally:
            await client.aclose()
    assert asyncio.run(go()) == ["completed"] * 20
    assert sim.stats.requests == 20
    assert sim.stats.connections_opened == 1
    assert sim.stats.disconnects == []


def test_paced_stream_metrics(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=200, first_token_delay=0.2)
    r = ask(client_for(sim), max_tokens=40)
    assert r.status == "completed"
    m = r.metrics  # lower bounds only: a loaded client reads late, never early (speed: bench/)
    assert m.time_to_first_token >= 0.19
    assert m.total_time >= 0.2 + 0.19  # the 40th token is due 0.195 s after the first
    # the rate counts the answer's tokens over at most the whole request
    assert r.usage.completion_tokens == 40 and m.tokens_per_second >= 40 / m.total_time


def test_live_result_is_readable_while_streaming(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=300)
    seen: list[tuple[str, int]] = []
    client = client_for(sim)

    async def go() -> None:
        from dbchat_magic.result import ChatResult
        result = ChatResult()
        await client.complete(QUESTION, result=result,
                              on_event=lambda ev: seen.append((result.status, len(result.text))))
        await client.aclose()
        assert result.status == "completed"
    asyncio.run(go())
    streaming = [n for status, n in seen if status == "streaming"]
    assert len(streaming) > 10 and streaming == sorted(streaming) and streaming[-1] > 0


def test_list_endpoints_chat_only_with_ready_state(sim: Simulator) -> None:
    async def go() -> list:
        client = client_for(sim)
        try:
            return await client.list_endpoints()
        finally:
            await client.aclose()
    found = {e.name: e for e in asyncio.run(go())}
    chat = {n for n, ep in sim.endpoints.items() if ep.is_chat}
    assert set(found) == chat and chat
    # chat models and agents; the embeddings endpoint is left out
    assert {e.task for e in found.values()} == {"llm/v1/chat", "agent/v2/chat",
                                                "agent/v1/responses"}
    not_ready = [n for n, ep in sim.endpoints.items() if ep.is_chat and not ep.ready]
    assert not_ready and all(not found[n].ready for n in not_ready)
    assert sum(e.ready for e in found.values()) == len(chat) - len(not_ready)


def test_environment_credentials(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    for k, v in sim.env().items():
        monkeypatch.setenv(k, v)
    client = ChatClient(Settings(retry_backoff=0.01))
    assert client.credential_source == "environment (DATABRICKS_TOKEN)"
    assert ask(client).status == "completed"


def test_importing_client_does_not_import_databricks_sdk() -> None:
    code = ("import sys, dbchat_magic.client, dbchat_magic.auth; "
            "assert not any(m.startswith('databricks') for m in sys.modules), 'sdk imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_warm_up_prepares_without_sending() -> None:
    code = ("import asyncio, sys\n"
            "from dbchat_magic.client import ChatClient\n"
            "from dbchat_magic.config import Settings\n"
            "c = ChatClient(Settings(host='http://127.0.0.1:9'), token='t')\n"
            "assert 'anyio._backends._asyncio' not in sys.modules\n"
            "asyncio.run(c.warm_up())\n"
            "assert 'anyio._backends._asyncio' in sys.modules and 'h11' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)  # port 9 would refuse: nothing sent


def test_list_endpoints_errors_are_typed_and_short(sim: Simulator) -> None:
    from dbchat_magic.errors import AuthError, ConnectError

    async def go(client: ChatClient) -> object:
        try:
            return await client.list_endpoints()
        finally:
            await client.aclose()
    refused = (r"listing endpoints on .* was refused \(HTTP 403\) with the credentials from "
               r"explicit token argument: Invalid access token")
    with pytest.raises(AuthError, match=refused):
        asyncio.run(go(ChatClient(Settings(host=sim.url), token="wrong-token")))
    with pytest.raises(ConnectError, match=r"cannot connect to http://127\.0\.0\.1:9"):
        asyncio.run(go(ChatClient(Settings(host="http://127.0.0.1:9"), token="t")))


def _held_long_answer(sim: Simulator, held_at: int, tokens_per_second: float | None,
                      seen: Callable[[str], bool], what: str) -> tuple[str, str]:
    """A 4,000-token answer held before token ``held_at``: the live text once ``seen(text)``
    holds while held, and the final text."""
    gate = Gate(after_tokens=held_at)
    sim.set_pacing(tokens_per_second=tokens_per_second, gate=gate)
    sim.reply_tokens = 4000
    client = client_for(sim)

    async def go() -> tuple[str, str]:
        from dbchat_magic.result import ChatResult
        result = ChatResult()
        task = asyncio.ensure_future(client.complete(QUESTION, result=result, max_tokens=4000))
        try:
            await until(gate.reached.is_set, f"the answer to be held at token {held_at}")
            await until(lambda: seen(result.text), what)
            held = result.text
        finally:
            gate.open()
        await task
        await client.aclose()
        assert result.status == "completed"
        return held, result.text

    return asyncio.run(go())


def test_a_long_answer_held_mid_way_shows_every_word_received(sim: Simulator) -> None:
    """Past 8 KiB text is joined at most every 5 ms; what came in less than 5 ms after a join is
    joined when they have passed, not left out until the next event (a server pausing after a
    burst, e.g. for a tool call, must not hide the words before the pause)."""
    def every_word(text: str) -> bool:
        return len(text) == len("".join(tokenize(expected_text(sim))[:3000]))

    # unpaced: the last reads before the pause come close together
    held, text = _held_long_answer(sim, 3000, None, every_word, "all 3000 tokens in the text")
    assert len(held) > 8192 and text.startswith(held) and text == expected_text(sim)


def test_long_live_answer_keeps_growing_while_streaming(sim: Simulator) -> None:
    """Past 8 KiB the text is joined in batches (at most every 5 ms), never only at the end: the
    answer is held by a Gate near its end, and the live text has grown past 8 KiB by a batched
    join by then (a per-delta join stops at 8 KiB plus one token; the 1400+ deltas after it take
    longer than 5 ms to apply however the reads are grouped)."""
    held, text = _held_long_answer(sim, 3500, 4000, lambda t: len(t) > 8192 + 64,
                                   "a batched join past 8 KiB")  # paced: several reads
    assert text == expected_text(sim) and len(text) > 2 * 8192
    assert 8192 + 64 < len(held) < len(text) and text.startswith(held)  # seen mid-way
