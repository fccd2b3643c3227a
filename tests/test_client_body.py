"""The response body reader under the client: straight from httpcore's h11 state over loopback
(joined pieces, same bytes, connection reuse, dropped connections as httpx errors), and httpx's
own iterators where that path does not apply (mock transports, content-encoding)."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator

import httpx
import orjson

from client_helpers import expected_text
from dbchat_magic.client._body import _h11_connection, body_pieces
from dbchat_magic.client._normalize import ChunkNormalizer
from dbchat_magic.events import ReasoningDelta, TextDelta, UsageUpdate
from dbchat_magic.simulator import Simulator
from dbchat_magic.sse import SSEDecoder

LLAMA = "databricks-meta-llama-3-3-70b-instruct"


def _body(tokens: int) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": "hi"}], "stream": True,
            "reply_tokens": tokens, "max_tokens": tokens}


def _datas(pieces: list[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    return [e.raw_data for p in pieces for e in decoder.feed(p)]


def _text(datas: list[bytes]) -> str:
    out = []
    for d in datas:
        if d != b"[DONE]":
            content = orjson.loads(d)["choices"][0]["delta"].get("content")
            out.append(content if isinstance(content, str) else "")
    return "".join(out)


async def _settled(sim: Simulator, tokens: int) -> None:
    """Wait until the simulator has sent all it can: all ``tokens`` (at once when it has), or
    nothing more for a whole second (blocked on a full socket; a loaded server thread that
    merely paused would have moved on by then)."""
    sent, since = -1, time.monotonic()
    deadline = since + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        now = sim.stats.log[-1].tokens_sent if sim.stats.log else 0
        if now >= tokens:
            return
        if now != sent:
            sent, since = now, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            return


async def _read(client: httpx.AsyncClient, url: str, tokens: int, *,
                pile_up: Simulator | None = None) -> tuple[list[bytes], bool]:
    request = client.build_request("POST", url, json=_body(tokens))
    response = await client.send(request, stream=True)
    try:
        direct = _h11_connection(response) is not None
        if pile_up is not None:  # let the server's writes pile up in the socket
            await _settled(pile_up, tokens)
        return [p async for p in body_pieces(response)], direct
    finally:
        await response.aclose()


def test_direct_reader_gives_the_stream_and_keeps_the_connection() -> None:
    with Simulator(chunking="random") as sim:
        url = f"{sim.url}/serving-endpoints/{LLAMA}/invocations"

        async def go() -> list[tuple[list[bytes], bool]]:
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {sim.token}"}) as c:
                runs = []
                for _ in range(3):
                    runs.append(await _read(c, url, 200))
                    assert _text(_datas(runs[-1][0])) == expected_text(sim)
                return runs

        runs = asyncio.run(go())
        assert all(direct for _, direct in runs)
        assert all(_datas(pieces)[-1] == b"[DONE]" for pieces, _ in runs)
        assert all(isinstance(p, bytes) and p for pieces, _ in runs for p in pieces)
        assert sim.stats.connections_opened == 1  # read to the end: back to the pool each time


def test_direct_reader_joins_what_one_network_read_holds() -> None:
    with Simulator() as sim:  # one HTTP chunk per event on the wire
        url = f"{sim.url}/serving-endpoints/{LLAMA}/invocations"

        async def go() -> list[bytes]:
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {sim.token}"}) as c:
                pieces, direct = await _read(c, url, 2000, pile_up=sim)
                assert direct
                return pieces

        pieces = asyncio.run(go())
        datas = _datas(pieces)
        assert len(datas) > 2000 and _text(datas) == expected_text(sim)
        assert len(pieces) < len(datas) / 4  # many events per piece, not one hop per chunk


def test_direct_reader_reports_a_dropped_connection_as_an_httpx_error() -> None:
    with Simulator() as sim:
        sim.inject("disconnect", after=5)
        url = f"{sim.url}/serving-endpoints/{LLAMA}/invocations"

        async def go() -> tuple[list[bytes], BaseException | None]:
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {sim.token}"}) as c:
                response = await c.send(c.build_request("POST", url, json=_body(50)),
                                        stream=True)
                assert _h11_connection(response) is not None
                got: list[bytes] = []
                try:
                    async for piece in body_pieces(response):
                        got.append(piece)
                except httpx.HTTPError as exc:
                    return got, exc
                finally:
                    await response.aclose()
                return got, None

        got, error = asyncio.run(go())
        assert isinstance(error, httpx.RemoteProtocolError)
        assert str(error)  # a message, not an empty exception
        assert _text(_datas(got)) == expected_text(sim)  # the 5 tokens sent before the drop


class _Pieces(httpx.AsyncByteStream):
    """A streamed mock body, handed over in 7-byte pieces."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.body), 7):
            yield self.body[i:i + 7]


def _mock_response(body: bytes, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers=headers, stream=_Pieces(body))

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as c:
            response = await c.send(c.build_request("GET", "http://mock.invalid/"), stream=True)
            response.pieces = [p async for p in body_pieces(response)]  # type: ignore[attr-defined]
            response.direct = _h11_connection(response) is not None  # type: ignore[attr-defined]
            await response.aclose()
            return response
    return asyncio.run(go())


def test_other_transports_read_through_httpx() -> None:
    body = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    r = _mock_response(body, {"content-type": "text/event-stream"})
    assert not r.direct and b"".join(r.pieces) == body  # type: ignore[attr-defined]


def test_content_encoded_bodies_are_decoded() -> None:
    body = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    r = _mock_response(gzip.compress(body), {"content-type": "text/event-stream",
                                             "content-encoding": "gzip"})
    assert b"".join(r.pieces) == body  # type: ignore[attr-defined]


def test_normalizer_appends_a_batch_in_chunk_order() -> None:
    n = ChunkNormalizer()
    batch: list[object] = []
    n.add({"choices": [{"delta": {"content": "a"}}], "usage": {"prompt_tokens": 3}}, batch)
    n.add({"choices": [{"delta": {"content": "", "reasoning_content": "think"}}]}, batch)
    n.add({"choices": [{"delta": {"content": "b<|eo"}}]}, batch)
    n.add({"choices": [{"delta": {"content": "t_id|>c"}, "finish_reason": "stop"}]}, batch)
    assert batch == [TextDelta("a"), UsageUpdate(3, None, None), ReasoningDelta("think"),
                     TextDelta("b"), TextDelta("c")]
    assert n.finish_reason == "stop"
