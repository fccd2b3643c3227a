"""Every simulator fault over loopback: the result's status, the kept partial text, the message."""

from __future__ import annotations

import asyncio
import time

import pytest

from client_helpers import QUESTION, ask, client_for, expected_text
from dbchat_magic.client import ChatResult
from dbchat_magic.simulator import Simulator


def test_429_with_retry_after_is_honoured(sim: Simulator) -> None:
    sim.inject("429", retry_after=1)
    client = client_for(sim)
    result = ChatResult()
    seen_while_waiting: dict = {}

    async def go() -> None:
        task = asyncio.create_task(client.complete(QUESTION, result=result))
        while "retrying" not in result.extras and not task.done():
            await asyncio.sleep(0.01)
        seen_while_waiting.update(status=result.status, retries=result.metrics.retries,
                                  why=result.extras.get("retrying", ""))
        await task
        await client.aclose()
    t0 = time.monotonic()
    asyncio.run(go())
    assert time.monotonic() - t0 >= 0.95  # waited as asked, not the 10 ms backoff
    assert seen_while_waiting["status"] == "pending" and seen_while_waiting["retries"] == 1
    assert "HTTP 429" in seen_while_waiting["why"]  # a live view can say why it waits
    assert result.status == "completed" and result.text == expected_text(sim)
    assert result.metrics.retries == 1 and sim.stats.requests == 2
    assert "retrying" not in result.extras


def test_429_without_retry_after_backs_off_then_fails(sim: Simulator) -> None:
    sim.inject("429", times=10)
    r = ask(client_for(sim, max_retries=2))
    assert r.status == "failed" and r.text == ""
    assert sim.stats.requests == 3 and r.metrics.retries == 2
    assert r.error.startswith("rate limit exceeded for endpoint")
    assert "HTTP 429 after 2 retries" in r.error and "wait a minute" in r.error


def test_429_asking_for_too_long_fails_at_once(sim: Simulator) -> None:
    sim.inject("429", retry_after=3600)
    r = ask(client_for(sim, retry_max_wait=5))
    assert r.status == "failed" and sim.stats.requests == 1
    assert "asked to wait 3600 s" in r.error


@pytest.mark.parametrize("fault", ["500", "503", "html502"])
def test_5xx_is_retried(sim: Simulator, fault: str) -> None:
    sim.inject(fault)
    r = ask(client_for(sim))
    assert r.status == "completed" and r.metrics.retries == 1 and r.text == expected_text(sim)


def test_5xx_gives_up_after_max_retries(sim: Simulator) -> None:
    sim.inject("503", times=10)
    r = ask(client_for(sim, max_retries=3))
    assert r.status == "failed" and sim.stats.requests == 4
    assert "failed with HTTP 503 after 3 retries" in r.error
    assert "temporarily unavailable" in r.error


def test_html_502_page_becomes_a_short_message(sim: Simulator) -> None:
    sim.inject("html502", times=10)
    r = ask(client_for(sim, max_retries=1))
    assert r.status == "failed"
    assert "HTML error page, HTTP 502 (502 Bad Gateway) after 1 retry" in r.error
    assert "<" not in r.error and len(r.error) < 200


@pytest.mark.parametrize(("fault", "needle"), [
    ("401", "the token from explicit token argument was rejected (HTTP 401"),
    ("403", "permission denied (HTTP 403) for endpoint"),
    ("404", "run `%dbchat endpoints`"),
])
def test_auth_and_not_found_are_not_retried(sim: Simulator, fault: str, needle: str) -> None:
    sim.inject(fault)
    r = ask(client_for(sim))
    assert r.status == "failed" and r.text == "" and sim.stats.requests == 1
    assert needle in r.error and "\n" not in r.error


def test_404_names_the_endpoint(sim: Simulator) -> None:
    r = ask(client_for(sim), endpoint="retired-model")
    assert r.status == "failed"
    assert r.error.startswith(f"endpoint 'retired-model' was not found on {sim.url} (HTTP 404)")


def test_400_message_that_is_json_is_unwrapped(sim: Simulator) -> None:
    sim.inject("400")  # Databricks' message holds an OpenAI-style JSON error as a string
    r = ask(client_for(sim))
    assert r.status == "failed" and sim.stats.requests == 1
    assert r.error.endswith("rejected the request (HTTP 400): Input validation error: "
                            "`max_tokens` must be less than or equal to 8192")


def test_disconnect_mid_stream_is_truncated_with_partial_text(sim: Simulator) -> None:
    sim.inject("disconnect", after=7)
    r = ask(client_for(sim))
    assert r.status == "truncated" and sim.stats.requests == 1  # never retried after a byte
    assert r.text == expected_text(sim) and r.text
    assert r.error == "the connection dropped mid-answer"


def test_missing_done_is_truncated_with_partial_text(sim: Simulator) -> None:
    sim.inject("no_done", after=12)
    r = ask(client_for(sim))
    assert r.status == "truncated" and r.text == expected_text(sim) and r.text
    assert r.error.startswith("the stream stopped without [DONE] or a finish_reason")


@pytest.mark.parametrize("shape", ["error_code", "error"])
def test_error_object_mid_stream_fails_with_partial_text(sim: Simulator, shape: str) -> None:
    sim.inject("error_midstream", after=4, shape=shape, message="CUDA out of memory")
    r = ask(client_for(sim))
    assert r.status == "failed" and r.text == expected_text(sim) and r.text
    assert r.error.endswith("reported an error mid-answer: CUDA out of memory")


def test_malformed_chunk_is_skipped_and_reported(sim: Simulator) -> None:
    sim.inject("malformed_chunk", after=3)
    r = ask(client_for(sim))
    assert r.status == "completed" and r.text == expected_text(sim)
    assert r.extras["warnings"] == ["skipped a malformed chunk from the endpoint"]


def test_slow_first_token(sim: Simulator) -> None:
    sim.inject("slow_first_token", delay=0.5)
    r = ask(client_for(sim))
    assert r.status == "completed" and r.text == expected_text(sim)
    assert r.metrics.time_to_first_token >= 0.45


@pytest.mark.parametrize("fault", ["keepalive", "crlf", "u2028", "special_tokens"])
@pytest.mark.parametrize("chunking", ["event", "many", "random"])
def test_framing_faults_keep_the_exact_text(sim: Simulator, fault: str, chunking: str) -> None:
    sim.inject(fault, chunking=chunking)
    r = ask(client_for(sim))
    assert r.status == "completed" and r.text == expected_text(sim)
    assert "<|" not in r.text
    if fault == "u2028":
        assert "\u2028" in r.text and "\u2029" in r.text and "\x85" in r.text


def test_reasoning_blocks(sim: Simulator) -> None:
    sim.inject("reasoning", reasoning="First I look at the totals. ")
    r = ask(client_for(sim))
    entry = sim.stats.log[-1]
    assert r.status == "completed"
    assert r.reasoning == entry.reasoning == "First I look at the totals. "
    assert r.text == entry.text and "totals" not in r.text


def test_faults_combined_with_random_chunking(sim: Simulator) -> None:
    sim.inject("special_tokens", chunking="random", seed=3)
    sim.inject("crlf")
    sim.inject("keepalive", every=2)
    sim.inject("u2028")
    r = ask(client_for(sim))
    assert set(sim.stats.log[-1].faults) == {"special_tokens", "crlf", "keepalive", "u2028"}
    assert r.status == "completed" and r.text == expected_text(sim)


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_retry() -> None:
    """Load balancers close idle keep-alive connections; the next question must not notice."""
    with Simulator(idle_timeout=0.2) as sim:
        client = client_for(sim)

        async def go() -> list[ChatResult]:
            first = await client.complete(QUESTION)
            while not sim.stats.idle_closed:
                await asyncio.sleep(0.02)
            second = await client.complete(QUESTION)
            await client.aclose()
            return [first, second]
        results = asyncio.run(go())
    assert [r.status for r in results] == ["completed", "completed"]
    assert [r.metrics.retries for r in results] == [0, 0] and sim.stats.connections_opened == 2


def test_a_connection_dropped_before_the_answer_is_retried_on_a_new_one(sim: Simulator) -> None:
    """The race a stale pooled connection loses: the request is sent, the connection closes."""
    sim.inject("drop")
    r = ask(client_for(sim))
    assert r.status == "completed" and r.text == expected_text(sim)
    assert r.metrics.retries == 1
    first, retry = sim.stats.log
    assert first.faults == ["drop"] and not retry.faults and retry.connection != first.connection


def test_a_dropped_connection_is_retried_at_once_not_after_a_backoff(sim: Simulator) -> None:
    """With a 30 s backoff and a 5 s deadline only an immediate retry can answer in time."""
    sim.inject("drop")
    r = ask(client_for(sim, retry_backoff=30, total_timeout=5))
    assert r.status == "completed" and r.metrics.retries == 1
    sim.inject("drop", times=2)  # a second drop in a row is no stale connection: back off
    r = ask(client_for(sim, retry_backoff=30, total_timeout=5))
    assert r.status == "failed" and "before an answer arrived" in r.error


def test_a_failed_result_keeps_the_error_kind_and_its_hint(sim: Simulator) -> None:
    from dbchat_magic.errors import EndpointNotFound, RateLimited

    missing = ask(client_for(sim), endpoint="no-such-endpoint")
    assert missing.status == "failed" and missing.error_kind == "EndpointNotFound"
    assert missing.error_hint == EndpointNotFound.hint
    sim.inject("429", times=1)
    limited = ask(client_for(sim, max_retries=0))
    assert limited.error_kind == "RateLimited" and limited.error_hint == RateLimited.hint
    assert ask(client_for(sim)).error_kind is None  # a completed answer carries no kind
