"""Client pieces without a server: special-token filtering, normalisation, request building,
error-body parsing, backoff and Retry-After, and the client-side rate limiter."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbchat_magic.client._errors import parse_error_body
from dbchat_magic.client._normalize import ChunkNormalizer, SpecialTokenFilter, stream_error
from dbchat_magic.client._ratelimit import RateLimiter
from dbchat_magic.client._request import MAX_BODY_BYTES, chat_body, chat_url, list_url
from dbchat_magic.client._retry import Backoff, parse_retry_after
from dbchat_magic.errors import BadRequest, ConfigError, RateLimited
from dbchat_magic.events import ReasoningDelta, TextDelta, UsageUpdate

SPECIALS = ["<|begin_of_text|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>",
            "<|reserved_special_token_42|>", "<|finetune_right_pad_id|>", "<|end_of_text|>",
            "<|start_header_id|>assistant<|end_header_id|>\n\n"]


def _filter(pieces: list[str]) -> str:
    f = SpecialTokenFilter()
    return "".join(f.feed(p) for p in pieces) + f.flush()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="ab <|>_\n€", max_size=8), st.sampled_from(SPECIALS)),
                max_size=12),
       st.lists(st.integers(0, 200), max_size=10))
def test_special_tokens_stripped_across_any_split(parts: list[str], cuts: list[int]) -> None:
    wire = "".join(parts)
    clean = "".join(p for p in parts if p not in SPECIALS)
    points = sorted({min(c, len(wire)) for c in cuts})
    pieces = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    # Plain text that happens to form a special token when glued is a token too: compare with
    # the unsplit result, and check the unsplit result against the clean text when no accident.
    assert _filter(pieces) == _filter([wire])
    if not any(s in clean for s in ("<|", "|>")):
        assert _filter([wire]) == clean


def test_lone_angle_brackets_are_kept() -> None:
    assert _filter(["a <", " b", " <|x|> c<"]) == "a < b <|x|> c<"


def test_normalizer_content_shapes() -> None:
    n = ChunkNormalizer()
    assert n.events({"choices": [{"delta": {"role": "assistant", "content": ""}}]}) == []
    evs = n.events({"model": "m-1", "choices": [{"delta": {"content": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
        {"type": "text", "text": "Hi"}]}, "finish_reason": None}],
        "usage": {"prompt_tokens": 3, "completion_tokens": None, "total_tokens": None}})
    assert evs == [ReasoningDelta("think"), TextDelta("Hi"), UsageUpdate(3, None, None)]
    assert n.events({"choices": [{"delta": {"reasoning_content": "r"}}]}) == [ReasoningDelta("r")]
    n.events({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    assert (n.model, n.finish_reason) == ("m-1", "stop")
    whole = ChunkNormalizer().events(
        {"choices": [{"message": {"role": "assistant", "content": "all"}}]})
    assert whole == [TextDelta("all")]


def test_stream_error_shapes() -> None:
    assert stream_error({"error_code": "X", "message": "boom"}) == "boom"
    assert stream_error({"error": {"message": "bad"}}) == "bad"
    assert stream_error({"error": "plain"}) == "plain"
    assert stream_error({"error": None, "choices": []}) is None


def test_urls_for_both_styles() -> None:
    assert chat_url("https://h", "my ep", "databricks") == \
        "https://h/serving-endpoints/my%20ep/invocations"
    assert chat_url("https://h", "e", "openai") == "https://h/serving-endpoints/chat/completions"
    assert chat_url("http://vllm:8000/v1", "e", "openai") == "http://vllm:8000/v1/chat/completions"
    assert list_url("https://h", "databricks") == "https://h/api/2.0/serving-endpoints"
    assert list_url("http://vllm:8000/v1", "openai") == "http://vllm:8000/v1/models"


def test_body_limits_and_validation() -> None:
    msgs = [{"role": "user", "content": "x" * (MAX_BODY_BYTES + 10)}]
    with pytest.raises(BadRequest, match="at most 4 MB"):
        chat_body(msgs, endpoint="e", url_style="databricks", temperature=0, max_tokens=1,
                  extra={})
    with pytest.raises(ConfigError, match=r"messages\[1\] needs a role"):
        chat_body([{"role": "user", "content": "a"}, {"content": "b"}], endpoint="e",
                  url_style="databricks", temperature=None, max_tokens=None, extra={})
    body = chat_body([{"role": "user", "content": "a"}], endpoint="e", url_style="openai",
                     temperature=None, max_tokens=5, extra={"stream": False, "seed": 1})
    assert json.loads(body) == {"messages": [{"role": "user", "content": "a"}], "model": "e",
                                "max_tokens": 5, "seed": 1, "stream": True}


@pytest.mark.parametrize(("body", "ctype", "code", "message", "html"), [
    (b'{"error_code":"BAD_REQUEST","message":"{\\"error\\":{\\"message\\":\\"inner\\"}}",'
     b'"details":[{"request_id":"r-1"}]}', "application/json", "BAD_REQUEST", "inner", False),
    (b'{"error":{"message":"oa","type":"x"}}', "application/json", None, "oa", False),
    (b'{"detail":"fastapi style"}', "application/json", None, "fastapi style", False),
    (b"<html><head><title>502 Bad Gateway</title></head></html>", "text/html", None,
     "502 Bad Gateway", True),
    (b"upstream connect error", "text/plain", None, "upstream connect error", False),
])
def test_error_bodies(body: bytes, ctype: str, code: str | None, message: str,
                      html: bool) -> None:
    err = parse_error_body(body, ctype)
    assert (err.code, err.message, err.html) == (code, message, html)


def test_request_id_is_kept() -> None:
    err = parse_error_body(b'{"error_code":"X","message":"m","details":[{"request_id":"r-9"}]}',
                           "application/json")
    assert err.request_id == "r-9"


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp) == pytest.approx(30)


def test_backoff_grows_with_jitter_and_is_bounded() -> None:
    low, high = Backoff(0.5, 4, rng=lambda: 0.0), Backoff(0.5, 4, rng=lambda: 0.999)
    assert [low.delay(i) for i in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert all(low.delay(i) < high.delay(i) <= 4 for i in range(5))
    assert low.delay(0, retry_after=3) == 3
    assert low.delay(0, retry_after=60) is None  # longer than the cap: give up, do not hang


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_requests_per_minute_waits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=2, tpm=None, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        await limiter.acquire("e", 10)
        clock.now += 5
        await limiter.acquire("e", 10)
        await limiter.acquire("e", 10)  # must wait for the first to leave the window
        await limiter.acquire("other", 10)  # budgets are per endpoint
    asyncio.run(go())
    assert clock.slept == [pytest.approx(55.0)]


def test_rate_limiter_tokens_per_minute_fail_fast() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=None, tpm=1000, mode="fail", clock=clock, sleep=clock.sleep)

    async def go() -> None:
        r = await limiter.acquire("e", 100)
        r.settle(900)  # the answer used more than estimated
        clock.now += 10
        with pytest.raises(RateLimited, match=r"1000 tokens/minute\); next request possible in "
                                              r"50 s \(rate_limit_mode='fail'\)"):
            await limiter.acquire("e", 200)
        with pytest.raises(RateLimited, match="more than the client-side budget"):
            await limiter.acquire("e", 5000)
        clock.now += 51
        await limiter.acquire("e", 200)
    asyncio.run(go())
