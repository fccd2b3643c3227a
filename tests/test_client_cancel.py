"""Stop and deadlines over loopback: cancelling closes the connection at once and keeps the
partial answer; first-byte, gap and total timeouts; refused connections; missing credentials."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from client_helpers import QUESTION, ask, client_for
from dbchat_magic.client import ChatClient, ChatResult
from dbchat_magic.config import Settings
from dbchat_magic.errors import AuthError, RequestTimeout
from dbchat_magic.simulator import Gate, Simulator
from waiting import until, wait_until


def test_cancel_closes_the_connection_at_once_and_keeps_partial_text(sim: Simulator) -> None:
    gate = Gate(after_tokens=20)  # the answer is held mid-way: only the cancel can end it
    sim.set_pacing(gate=gate)
    client = client_for(sim)
    result = ChatResult()

    async def go() -> None:
        task = asyncio.create_task(client.complete(QUESTION, result=result))
        await until(lambda: len(result.text) >= 40, "40 characters of the answer")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the cancel itself closes the connection: the server sees it before the pool is closed
        await until(lambda: sim.stats.disconnects, "the server to see the connection closed")
        await client.aclose()

    try:
        asyncio.run(go())
    finally:
        gate.open()
    assert result.status == "stopped" and result.error is None  # the status says it all
    assert len(result.text) >= 40 and result.metrics.total_time is not None
    assert result.metrics.time_to_first_token is not None
    [gone] = sim.stats.disconnects
    assert gone.tokens_sent == gate.after_tokens  # closed while held: not the answer's end
    # the server's running usage seen before the stop is kept, not the first chunk's zero
    assert not result.usage.estimated
    assert result.usage.completion_tokens is not None
    assert len(result.text.split()) - 2 <= result.usage.completion_tokens <= gone.tokens_sent


def test_cancel_of_stream_consumer(sim: Simulator) -> None:
    gate = Gate(after_tokens=5)  # held after 5 tokens: the stream cannot end before the cancel
    sim.set_pacing(gate=gate)
    client = client_for(sim)

    async def consume(seen: list[str]) -> None:
        async for ev in client.stream(QUESTION):
            seen.append(type(ev).__name__)

    async def go() -> list[str]:
        seen: list[str] = []
        task = asyncio.create_task(consume(seen))
        await until(lambda: seen.count("TextDelta") >= 3, "3 text deltas")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(lambda: sim.stats.disconnects, "the server to see the connection closed")
        await client.aclose()
        return seen
    try:
        seen = asyncio.run(go())
    finally:
        gate.open()
    assert "StreamEnd" not in seen
    [gone] = sim.stats.disconnects
    assert gone.tokens_sent == gate.after_tokens


def test_first_byte_timeout(sim: Simulator) -> None:
    sim.inject("slow_first_token", delay=300)
    r = ask(client_for(sim, first_byte_timeout=0.3))
    assert r.status == "failed" and r.text == ""
    assert r.error.startswith("no answer from endpoint") and "first_byte_timeout" in r.error
    assert r.metrics.total_time < 60  # the 0.3 s deadline (200x), not the server's 300 s


def test_gap_timeout_keeps_partial_text(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=2.5)  # 0.4 s between tokens
    r = ask(client_for(sim, gap_timeout=0.15))
    assert r.status == "failed" and r.text  # the first token arrived before the stall
    assert "stalled for 0.15 s (gap_timeout)" in r.error


def test_total_timeout(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=40)
    sim.reply_tokens = 800  # 20 s
    r = ask(client_for(sim, total_timeout=0.5))
    assert r.status == "failed" and r.text
    assert "longer than 0.5 s (total_timeout)" in r.error
    [gone] = wait_until(lambda: sim.stats.disconnects, "the server to see the connection closed")
    assert gone.tokens_sent < sim.reply_tokens  # the deadline cut the answer before its end


def test_stream_raises_typed_timeout(sim: Simulator) -> None:
    sim.inject("slow_first_token", delay=300)  # no first byte can beat the deadline, loaded
    client = client_for(sim, first_byte_timeout=0.2)

    async def go() -> None:
        try:
            async for _ in client.stream(QUESTION):
                pass
        finally:
            await client.aclose()
    with pytest.raises(RequestTimeout, match="first_byte_timeout"):
        asyncio.run(go())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_retried_then_reported() -> None:
    host = f"http://127.0.0.1:{_closed_port()}"
    client = ChatClient(Settings(host=host, max_retries=2, retry_backoff=0.01), token="t0ken")
    r = ask(client)
    assert r.status == "failed" and r.metrics.retries == 2
    assert r.error.startswith(f"cannot connect to {host}: connection refused (after 2 retries)")
    assert "DATABRICKS_HOST" in r.error


def test_missing_credentials_fail_the_request_not_the_constructor() -> None:
    client = ChatClient(Settings())
    assert client.credential_source == "none found"
    r = ask(client)
    assert r.status == "failed" and "no Databricks credentials found" in r.error

    async def go() -> None:
        async for _ in client.stream(QUESTION):
            pass
    with pytest.raises(AuthError):
        asyncio.run(go())


def test_cancel_during_retry_wait_stops_at_once(sim: Simulator) -> None:
    sim.inject("503", retry_after=300)  # under retry_max_wait: the client would wait 300 s
    client = client_for(sim, retry_max_wait=600, total_timeout=600)
    result = ChatResult()

    async def go() -> float:
        task = asyncio.create_task(client.complete(QUESTION, result=result))
        await until(lambda: sim.stats.requests >= 1, "the first request")
        await asyncio.sleep(0.1)  # now (or soon) sleeping for the server's Retry-After
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
        return time.monotonic() - t0
    assert asyncio.run(go()) < 60  # not the server's 300 s Retry-After
    assert result.status == "stopped" and sim.stats.requests == 1


def test_total_timeout_bounds_retry_waits(sim: Simulator) -> None:
    sim.inject("503", retry_after=300, times=5)  # under retry_max_wait
    t0 = time.monotonic()
    r = ask(client_for(sim, total_timeout=1.0, retry_max_wait=600))
    assert time.monotonic() - t0 < 60 and r.status == "failed"  # no 300 s wait
    assert "HTTP 503" in r.error and sim.stats.requests == 1  # a 300 s wait would pass 1 s
