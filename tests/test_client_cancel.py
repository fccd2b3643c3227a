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
from dbchat_magic.simulator import Simulator


def test_cancel_closes_the_connection_at_once_and_keeps_partial_text(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=50)
    sim.reply_tokens = 500  # a 10 s answer: a close within seconds can only be the cancel's
    client = client_for(sim)
    result = ChatResult()

    async def go() -> float:
        task = asyncio.create_task(client.complete(QUESTION, result=result))
        while len(result.text) < 40:
            await asyncio.sleep(0.005)
        stopped_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
        return stopped_at

    stopped_at = asyncio.run(go())
    assert result.status == "stopped" and result.error is None  # the status says it all
    assert len(result.text) >= 40 and result.metrics.total_time is not None
    assert result.metrics.time_to_first_token is not None
    deadline = time.monotonic() + 2
    while not sim.stats.disconnects and time.monotonic() < deadline:
        time.sleep(0.005)
    [gone] = sim.stats.disconnects
    assert gone.at - stopped_at < 3  # ~1 ms when idle (bench/bench_engine.py measures it)
    assert 0 < gone.tokens_sent < sim.reply_tokens
    # the server's running usage seen before the stop is kept, not the first chunk's zero
    assert not result.usage.estimated
    assert result.usage.completion_tokens is not None
    assert len(result.text.split()) - 2 <= result.usage.completion_tokens <= gone.tokens_sent


def test_cancel_of_stream_consumer(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=100)
    client = client_for(sim)

    async def consume(seen: list[str]) -> None:
        async for ev in client.stream(QUESTION):
            seen.append(type(ev).__name__)

    async def go() -> list[str]:
        seen: list[str] = []
        task = asyncio.create_task(consume(seen))
        while seen.count("TextDelta") < 3:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
        return seen
    seen = asyncio.run(go())
    assert "StreamEnd" not in seen
    deadline = time.monotonic() + 2
    while not sim.stats.disconnects and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(sim.stats.disconnects) == 1


def test_first_byte_timeout(sim: Simulator) -> None:
    sim.inject("slow_first_token", delay=20)
    r = ask(client_for(sim, first_byte_timeout=0.3))
    assert r.status == "failed" and r.text == ""
    assert r.error.startswith("no answer from endpoint") and "first_byte_timeout" in r.error
    assert r.metrics.total_time < 10  # the 0.3 s deadline, not the server's 20 s


def test_gap_timeout_keeps_partial_text(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=2.5)  # 0.4 s between tokens
    r = ask(client_for(sim, gap_timeout=0.15))
    assert r.status == "failed" and r.text  # the first token arrived before the stall
    assert "stalled for 0.15 s (gap_timeout)" in r.error


def test_total_timeout(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=40)
    sim.reply_tokens = 800  # 20 s
    t0 = time.monotonic()
    r = ask(client_for(sim, total_timeout=0.5))
    assert r.status == "failed" and r.text
    assert "longer than 0.5 s (total_timeout)" in r.error
    assert time.monotonic() - t0 < 10  # the 0.5 s deadline, not the 20 s answer


def test_stream_raises_typed_timeout(sim: Simulator) -> None:
    sim.inject("slow_first_token", delay=1.0)
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
    sim.inject("503", retry_after=15)  # under the 20 s retry_max_wait
    client = client_for(sim)
    result = ChatResult()

    async def go() -> float:
        task = asyncio.create_task(client.complete(QUESTION, result=result))
        while sim.stats.requests < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # now sleeping for the server's Retry-After
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
        return time.monotonic() - t0
    assert asyncio.run(go()) < 10  # not the server's 15 s Retry-After
    assert result.status == "stopped" and sim.stats.requests == 1


def test_total_timeout_bounds_retry_waits(sim: Simulator) -> None:
    sim.inject("503", retry_after=15, times=5)  # under retry_max_wait
    t0 = time.monotonic()
    r = ask(client_for(sim, total_timeout=1.0))
    assert time.monotonic() - t0 < 10 and r.status == "failed"  # no 15 s wait
    assert "HTTP 503" in r.error and sim.stats.requests == 1  # a 15 s wait would pass 1 s
