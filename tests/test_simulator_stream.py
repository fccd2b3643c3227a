"""Pacing, chunking (what pieces the client receives) and disconnect detection, over loopback."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time

import httpx
import pytest

from dbchat_magic.simulator import LLAMA, Gate, Simulator
from waiting import until, wait_until

QUESTION = [{"role": "user", "content": "Explain the café données trend 🙂"}]
URL = f"/serving-endpoints/{LLAMA}/invocations"


def pieces_of(sim: Simulator, body: dict | None = None) -> list[bytes]:
    """The body exactly as the client receives it, piece by piece (one HTTP chunk each)."""
    headers = {"Authorization": f"Bearer {sim.token}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=10) as c, c.stream(
        "POST", URL, json={"messages": QUESTION, "stream": True, **(body or {})}
    ) as r:
        return list(r.iter_raw())


def events_in(raw: bytes) -> list[bytes]:
    return [b for b in raw.replace(b"\r\n", b"\n").split(b"\n\n") if b]


def test_event_chunking_one_event_per_piece(sim: Simulator) -> None:
    got = pieces_of(sim, {"reply_tokens": 20})
    assert len(got) == 1 + 20 + 2
    assert all(p.startswith(b"data: ") and p.endswith(b"\n\n") for p in got)
    assert all(p.count(b"\n\n") == 1 for p in got)


def test_many_chunking_groups_events(sim: Simulator) -> None:
    sim.set_pacing(chunking="many")
    got = pieces_of(sim, {"reply_tokens": 40})
    assert len(got) < 10
    assert max(p.count(b"\n\n") for p in got) == 8
    assert len(events_in(b"".join(got))) == 1 + 40 + 2


def test_random_chunking_splits_utf8_and_crlf_but_keeps_the_bytes() -> None:
    with Simulator(chunking="random", seed=7) as sim:
        plain = b"".join(pieces_of(sim, {"reply_tokens": 80}))
        sim.inject("crlf")
        got = pieces_of(sim, {"reply_tokens": 80})
    joined = b"".join(got)
    assert len(got) > 200
    mid_utf8 = [p for p in got if p and 0x80 <= p[0] < 0xC0]
    assert mid_utf8, "some piece must start inside a UTF-8 sequence"
    cr_lf = [a for a, b in itertools.pairwise(got) if a.endswith(b"\r") and b.startswith(b"\n")]
    assert cr_lf, "some piece must end between CR and LF"
    assert len(events_in(joined)) == len(events_in(plain)) == 1 + 80 + 2
    texts = [
        json.loads(e[6:])["choices"][0]["delta"].get("content", "")
        for e in events_in(joined)[:-1]
    ]
    assert "".join(texts) == sim.stats.log[-1].text


def test_pacing_tokens_per_second_and_first_token_delay() -> None:
    with Simulator(tokens_per_second=100, first_token_delay=0.2) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        with httpx.Client(base_url=sim.url, headers=headers, timeout=10) as c:
            start = time.monotonic()
            with c.stream("POST", URL, json={"messages": QUESTION, "stream": True,
                                             "reply_tokens": 30}) as r:
                arrivals = [time.monotonic() - start for _ in r.iter_raw()]
    first, total = arrivals[0], arrivals[-1]
    assert first >= 0.18
    # 30 tokens at 100/s take >= 0.29 s after the first; upper bound 30x that (a loaded box)
    assert 0.2 + 0.28 <= total < 0.2 + 9.0
    # tokens are never sent before they are due: token k (from 0) goes out at 0.2 + k/100 s or
    # later (a loaded client reads late, never early)
    tokens = arrivals[1:31]
    assert len(tokens) == 30 and all(a >= 0.2 + k / 100 - 0.005 for k, a in enumerate(tokens))


def test_set_pacing_changes_later_requests(sim: Simulator) -> None:
    sim.set_pacing(tokens_per_second=50)
    start = time.monotonic()
    pieces_of(sim, {"reply_tokens": 20})
    slow = time.monotonic() - start
    assert slow >= 0.37  # 20 tokens at 50/s can never arrive sooner
    assert sim.stats.log[-1].tokens_sent == 20
    sim.set_pacing(tokens_per_second=None)
    assert sim.pacing.tokens_per_second is None
    with pytest.raises(ValueError, match="chunking"):
        sim.set_pacing(chunking="lumpy")


def test_gate_holds_every_stream_until_opened(sim: Simulator) -> None:
    gate = Gate(after_tokens=5)
    sim.set_pacing(gate=gate)
    headers = {"Authorization": f"Bearer {sim.token}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=60) as c, c.stream(
        "POST", URL, json={"messages": QUESTION, "stream": True, "reply_tokens": 12}
    ) as r:
        pieces = r.iter_raw()
        before = [next(pieces) for _ in range(1 + 5)]  # the role event, then five tokens
        assert gate.reached.wait(30)
        assert sim.stats.log[-1].tokens_sent == 5  # the server waits: nothing more went out
        gate.open()
        after = list(pieces)
    assert len(before) + len(after) == 1 + 12 + 2
    assert sim.stats.log[-1].tokens_sent == 12
    sim.set_pacing(gate=None)
    assert sim.pacing.gate is None and len(pieces_of(sim, {"reply_tokens": 3})) == 1 + 3 + 2


def test_fault_can_override_pacing(sim: Simulator) -> None:
    sim.inject("keepalive", tokens_per_second=40, chunking="many")
    start = time.monotonic()
    got = pieces_of(sim, {"reply_tokens": 16})
    assert time.monotonic() - start >= 0.28  # the last group of 4 tokens is due at 0.3 s
    assert max(p.count(b"\n\n") for p in got) > 1


def test_client_closing_midstream_is_seen_at_once(sim: Simulator) -> None:
    gate = Gate(after_tokens=20)  # held: the server writes nothing until the test opens it
    sim.set_pacing(gate=gate)

    async def consume_then_stop() -> None:
        headers = {"Authorization": f"Bearer {sim.token}"}
        body = {"messages": QUESTION, "stream": True, "reply_tokens": 2000}
        async with httpx.AsyncClient(base_url=sim.url, headers=headers) as c, \
                c.stream("POST", URL, json=body) as r:
            await r.aiter_raw().__anext__()
            await until(gate.reached.is_set, "the stream to be held")

    try:
        asyncio.run(consume_then_stop())
        # seen while the stream is held, so without writing: from the closed socket alone
        [seen] = wait_until(lambda: sim.stats.disconnects, "the server to see the close")
    finally:
        gate.open()
    assert seen.endpoint == LLAMA and seen.request_number == 1
    assert seen.tokens_sent == 20
    # the simulator is still healthy afterwards
    sim.set_pacing(gate=None)
    assert len(pieces_of(sim, {"reply_tokens": 3})) == 1 + 3 + 2


def test_http10_stream_is_delimited_by_closing(sim: Simulator) -> None:
    body = json.dumps({"messages": QUESTION, "stream": True, "reply_tokens": 5}).encode()
    head = (f"POST {URL} HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {sim.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as s:
        s.sendall(head + body)
        raw = b""
        while chunk := s.recv(65536):  # ends only because the server closes
            raw += chunk
    headers, _, payload = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in headers and b"Connection: close" in headers
    assert payload.startswith(b"data: {") and payload.endswith(b"data: [DONE]\n\n")
    assert len(events_in(payload)) == 1 + 5 + 2
