"""Hostile servers over real loopback HTTP: oversized lines, events and bodies, broken framing,
JSON completions under the wrong content type, floods of tiny events. Memory stays bounded (the
numbers are in bench/bench_wire_memory.py); here: the right status, message and kept text."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from client_helpers import QUESTION, ask, client_for
from dbchat_magic.client import TextDelta
from dbchat_magic.config import Settings
from dbchat_magic.errors import ConfigError, StreamFailed
from dbchat_magic.simulator import Simulator
from dbchat_magic.simulator._responders import tokenize

REPLY = "one two three four five six seven eight nine ten"
TOKENS = tokenize(REPLY)
KIB, MIB = 1024, 2**20


@pytest.fixture
def hostile() -> Iterator[Simulator]:
    """A simulator that answers every question with `REPLY`."""
    with Simulator() as s:
        s.script("", REPLY)
        yield s


def _first(n: int) -> str:
    return "".join(TOKENS[:n])


def _wait_for(check: object, timeout: float = 30.0) -> bool:
    """Poll ``check()`` until true (the simulator notices a disconnect on its own loop)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


# -- SSE lines and events ------------------------------------------------------------------------

def test_a_huge_line_fails_naming_the_setting_and_keeps_the_text(hostile: Simulator) -> None:
    hostile.inject("huge_line", after=3, size=8 * MIB)
    r = ask(client_for(hostile, max_event_bytes=256 * KIB))
    assert r.status == "failed"
    assert r.text == _first(3)  # what came before the oversized line is kept
    assert "larger than 256 KiB (max_event_bytes)" in r.error and "partial answer" in r.error
    assert "Raise max_event_bytes" in r.error
    # The client hung up instead of reading the other ~7.7 MiB.
    assert _wait_for(lambda: len(hostile.stats.disconnects) == 1)


def test_a_huge_line_at_the_very_start_fails_with_no_text(hostile: Simulator) -> None:
    hostile.inject("huge_line", after=0, size=2 * MIB)
    r = ask(client_for(hostile, max_event_bytes=64 * KIB))
    assert r.status == "failed" and r.text == ""
    assert "max_event_bytes" in r.error


def test_an_event_of_many_lines_is_bounded_too(hostile: Simulator) -> None:
    """No line is long, but one event's data lines add up past the limit."""
    hostile.inject("huge_line", after=4, size=2 * MIB, line_bytes=1000)
    r = ask(client_for(hostile, max_event_bytes=128 * KIB))
    assert r.status == "failed" and r.text == _first(4)
    assert "max_event_bytes" in r.error


def test_a_large_line_under_the_limit_is_read(hostile: Simulator) -> None:
    hostile.inject("huge_line", after=2, size=300 * KIB)
    r = ask(client_for(hostile, max_event_bytes=1 * MIB))
    assert r.status == "completed"
    assert r.text == _first(2) + "x" * (300 * KIB) + REPLY[len(_first(2)):]


def test_stream_raises_after_yielding_what_came_first(hostile: Simulator) -> None:
    hostile.inject("huge_line", after=5, size=1 * MIB)
    client = client_for(hostile, max_event_bytes=64 * KIB)
    seen: list[str] = []

    async def go() -> None:
        try:
            async for ev in client.stream(QUESTION):
                if isinstance(ev, TextDelta):
                    seen.append(ev.text)
        finally:
            await client.aclose()

    with pytest.raises(StreamFailed, match="max_event_bytes"):
        asyncio.run(go())
    assert "".join(seen) == _first(5)


def test_the_client_works_again_after_a_bounded_failure(hostile: Simulator) -> None:
    client = client_for(hostile, max_event_bytes=64 * KIB)

    async def go() -> tuple:
        try:
            hostile.inject("huge_line", after=1, size=1 * MIB)
            bad = await client.complete(QUESTION)
            good = await client.complete(QUESTION)
            return bad, good
        finally:
            await client.aclose()

    bad, good = asyncio.run(go())
    assert bad.status == "failed" and good.status == "completed" and good.text == REPLY
    assert hostile.stats.connections_opened == 2  # the poisoned connection was not reused


def test_a_flood_of_tiny_pieces_and_keepalives_reads_exactly(hostile: Simulator) -> None:
    words = " ".join(f"w{i}" for i in range(1000))  # each its own event, in random tiny pieces
    hostile.script("", words)
    hostile.inject("keepalive", every=1, chunking="random", seed=7)
    r = ask(client_for(hostile, max_event_bytes=64 * KIB))
    assert r.status == "completed" and r.text == words


# -- whole bodies --------------------------------------------------------------------------------

def test_a_huge_json_body_fails_naming_the_setting(hostile: Simulator) -> None:
    # 64 MiB: far more than loopback socket buffers hold, so the server is still writing when
    # the client hangs up and sees it (8 MiB could fit in the buffers on a loaded machine)
    hostile.inject("json_body", size=64 * MIB)
    r = ask(client_for(hostile, max_body_bytes=1 * MIB))
    assert r.status == "failed"
    assert "larger than 1 MiB (max_body_bytes)" in r.error and "raise max_body_bytes" in r.error
    assert _wait_for(lambda: len(hostile.stats.disconnects) == 1)


def test_a_json_body_under_the_limit_is_read(hostile: Simulator) -> None:
    hostile.inject("json_body", size=200 * KIB)
    r = ask(client_for(hostile, max_body_bytes=1 * MIB))
    assert r.status == "completed" and r.text == REPLY + "x" * (200 * KIB)


@pytest.mark.parametrize("ctype", ["text/plain", "", "application/octet-stream",
                                   "text/plain; charset=utf-8"])
def test_a_json_completion_is_read_whatever_its_content_type(hostile: Simulator,
                                                              ctype: str) -> None:
    hostile.inject("json_body", content_type=ctype)
    r = ask(client_for(hostile))
    assert r.status == "completed" and r.text == REPLY
    assert r.usage.completion_tokens == len(TOKENS) and not r.usage.estimated


def test_a_sniffed_json_body_is_bounded_too(hostile: Simulator) -> None:
    hostile.inject("json_body", content_type="text/plain", size=4 * MIB)
    r = ask(client_for(hostile, max_body_bytes=256 * KIB))
    assert r.status == "failed" and "max_body_bytes" in r.error


def test_a_huge_error_body_gives_the_short_http_message(hostile: Simulator) -> None:
    hostile.inject("huge_error", status=500, size=64 * MIB)
    r = ask(client_for(hostile, max_retries=0))
    assert r.status == "failed"
    assert r.error.startswith("endpoint") and "failed with HTTP 500" in r.error
    assert len(r.error) <= 300
    assert _wait_for(lambda: len(hostile.stats.disconnects) == 1 or
                     hostile.stats.connections_opened == 1)


def test_a_huge_error_body_is_retried_and_then_answered(hostile: Simulator) -> None:
    hostile.inject("huge_error", status=503, size=32 * MIB)
    r = ask(client_for(hostile, max_retries=1))
    assert r.status == "completed" and r.text == REPLY and r.metrics.retries == 1


# -- framing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["bad_chunk", "short_chunk"])
def test_broken_framing_keeps_the_text_received(hostile: Simulator, kind: str) -> None:
    """The tokens and the broken chunk arrive in one network read: the tokens still count."""
    hostile.inject("broken_framing", after=6, kind=kind)
    r = ask(client_for(hostile))
    assert r.status == "truncated"
    assert r.text == _first(6)
    assert r.error == "the connection dropped mid-answer"


def test_broken_framing_in_a_paced_stream_keeps_the_text(hostile: Simulator) -> None:
    hostile.inject("broken_framing", after=4, tokens_per_second=200)
    r = ask(client_for(hostile))
    assert r.status == "truncated" and r.text == _first(4)


# -- the settings that bound it ------------------------------------------------------------------

def test_the_bounds_are_settings_validated_like_the_others() -> None:
    s = Settings()
    assert s.max_event_bytes == s.max_body_bytes == 16 * MIB
    assert s.replace(max_event_bytes="1048576").max_event_bytes == MIB
    for name in ("max_event_bytes", "max_body_bytes"):
        with pytest.raises(ConfigError, match=f"{name} must be at least 65536"):
            s.replace(**{name: 1000})
        with pytest.raises(ConfigError, match=f"{name} must be a number"):
            s.replace(**{name: "lots"})
        with pytest.raises(ConfigError, match=f"{name} must be an integer"):
            Settings(**{name: 1.5})


@pytest.mark.parametrize("value", ["x", 3, ["a", "b"], [["a", "b"]], True])
def test_wrong_typed_profiles_in_settings_json_is_a_clear_error(tmp_path, value) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"profiles": value}))
    with pytest.raises(ConfigError) as info:
        Settings.load(path)
    assert f"settings file {path}: profiles must be an object" in str(info.value)
