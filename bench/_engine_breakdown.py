"""Where our client's time per token goes: CPU µs/token of each stage on a captured stream.

Captures the pieces of a real unpaced stream from the simulator once, then times (process CPU,
best of several repeats) each stage of our pipeline alone: SSE decoding, JSON parsing, chunk
normalization; and the same stream end to end over the network for ours and raw httpx. What the
stages do not explain is per-event plumbing (async generators, deadlines, event objects).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from _engine_clients import LLAMA, Target, ours_stream, raw_httpx


def _best_cpu(fn: Callable[[], Any], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


RESPONSES_AGENT = "dbchat-responses-agent"


async def capture(t: Target, n: int, endpoint: str = LLAMA) -> list[bytes]:
    """The body of an ``n``-token stream, piece by piece as httpx hands it over (a Responses
    stream for the simulator's ResponsesAgent endpoint)."""
    url = f"{t.host}/serving-endpoints/{endpoint}/invocations"
    body = t.body(n)
    if endpoint == RESPONSES_AGENT:
        body = {"input": body.pop("messages"), "max_output_tokens": n, **body}
    pieces: list[bytes] = []
    async with t.httpx_client().stream("POST", url, json=body) as r:
        async for piece in r.aiter_raw():
            pieces.append(piece)
    return pieces


def stage_costs(pieces: list[bytes], n: int,
                normalizer: Callable[[], Any] | None = None) -> dict[str, float]:
    """CPU µs/token of decoding, parsing and normalizing ``pieces`` (an ``n``-token stream;
    ``normalizer`` makes the wire format's normalizer, Chat Completions by default)."""
    from dbchat_magic.client._normalize import ChunkNormalizer
    from dbchat_magic.sse import SSEDecoder

    make = normalizer or ChunkNormalizer

    def decode() -> None:  # results dropped as they come, as in a stream (no GC build-up)
        decoder = SSEDecoder()
        for p in pieces:
            decoder.feed(p)

    def parse() -> None:
        loads = orjson.loads
        for d in datas:
            loads(d)

    decoder = SSEDecoder()
    datas = [e.raw_data for p in pieces for e in decoder.feed(p) if e.raw_data != b"[DONE]"]
    objs = [orjson.loads(d) for d in datas]

    def normalize() -> None:
        norm = make()
        out: list[Any] = []
        for o in objs:
            norm.add(o, out)
            out.clear()

    def split_floor() -> None:
        for p in pieces:
            p.split(b"\n\n")

    per = 1e6 / n
    return {
        "SSEDecoder.feed": _best_cpu(decode) * per,
        "orjson.loads": _best_cpu(parse) * per,
        "ChunkNormalizer.events": _best_cpu(normalize) * per,
        "bytes.split floor": _best_cpu(split_floor) * per,
    }


class _Replay(httpx.AsyncByteStream):
    """An httpx byte stream replaying captured pieces (no network, no HTTP parsing)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> Any:
        for piece in self.pieces:
            yield piece


async def in_memory_cpu(pieces: list[bytes], n: int, repeats: int = 3) -> float | None:
    """CPU µs/token of our whole client over an in-memory transport replaying ``pieces``.

    Swaps the client's private connection pool for an ``httpx.MockTransport`` one; None when
    the client's internals no longer allow that.
    """

    def handler(request: httpx.Request) -> httpx.Response:
        stream = _Replay(pieces)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    t = Target("http://replay.invalid", "replay-token")
    mock = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    try:
        from _engine_clients import _ours_client

        client = _ours_client(t)
        client._pool = lambda: mock
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            await ours_stream(t, n, lambda: None)
            best = min(best, time.process_time() - start)
        return best * 1e6 / n
    except (AttributeError, TypeError, RuntimeError, AssertionError):
        return None
    finally:
        await mock.aclose()


async def end_to_end_cpu(t: Target, n: int, repeats: int = 3) -> dict[str, float]:
    """CPU µs/token for the whole unpaced stream over the network: ours vs raw httpx."""
    out: dict[str, float] = {}
    for name, fn in (("ours stream()", ours_stream), ("raw httpx", raw_httpx)):
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            await fn(t, n, lambda: None)
            best = min(best, time.process_time() - start)
        out[name] = best * 1e6 / n
    return out


async def breakdown(t: Target, n: int = 100_000) -> list[str]:
    """Markdown lines: the per-stage table."""
    pieces = await capture(t, n)
    stages = stage_costs(pieces, n)
    total = await end_to_end_cpu(t, n)
    ours, raw = total["ours stream()"], total["raw httpx"]
    replay = await in_memory_cpu(pieces, n)
    explained = sum(v for k, v in stages.items() if k != "bytes.split floor")
    lines = [
        "",
        f"Where our time goes (process CPU µs/token, {n // 1000}k-token unpaced stream, "
        f"{len(pieces):,} network pieces, best of repeats):",
        "",
        "| stage | µs/token |",
        "|---|---:|",
        f"| raw httpx end to end (h11 + httpx generators per HTTP chunk) | {raw:.2f} |",
        f"| ours end to end | {ours:.2f} |",
        f"| → ours minus raw (negative: we read h11 per network read, no httpx plumbing) "
        f"| {ours - raw:.2f} |",
    ]
    if replay is not None:
        lines.append(f"| ours over an in-memory transport (httpx fallback reader, no HTTP "
                     f"parsing) | {replay:.2f} |")
    lines += [f"| → {k} | {v:.2f} |" for k, v in stages.items() if k != "bytes.split floor"]
    if replay is not None:
        lines.append(f"| → the rest of the in-memory run (read loop, generators, event objects)"
                     f" | {replay - explained:.2f} |")
    lines += [
        f"| (reference: `bytes.split(b'\\n\\n')` only) | {stages['bytes.split floor']:.2f} |",
        "",
    ]
    return lines


async def ours_on(t: Target, n: int, endpoint: str, repeats: int = 3) -> float:
    """CPU µs/token of our ``stream()`` for an ``n``-token answer from ``endpoint``."""
    from _engine_clients import QUESTION, _ours_client

    client = _ours_client(t)
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        async for _event in client.stream(QUESTION, endpoint=endpoint, max_tokens=n,
                                          reply_tokens=n):
            pass
        best = min(best, time.process_time() - start)
    return best * 1e6 / n


async def wire_paths(t: Target, n: int = 100_000) -> list[str]:
    """Markdown lines: the Chat Completions and the Responses event paths side by side."""
    from dbchat_magic.client._normalize import ChunkNormalizer
    from dbchat_magic.client._responses import ResponsesNormalizer

    rows = []
    for name, endpoint, make in (("Chat Completions chunks", LLAMA, ChunkNormalizer),
                                 ("Responses events", RESPONSES_AGENT, ResponsesNormalizer)):
        pieces = await capture(t, n, endpoint)
        stages = stage_costs(pieces, n, make)
        total = await ours_on(t, n, endpoint)
        size = sum(map(len, pieces)) / n
        rows.append(f"| {name} | {size:.0f} | {stages['SSEDecoder.feed']:.2f} | "
                    f"{stages['orjson.loads']:.2f} | {stages['ChunkNormalizer.events']:.2f} | "
                    f"{total:.2f} |")
    return ["", f"Wire paths (process CPU µs/token, {n // 1000}k-token unpaced stream, best of "
            "repeats; normalize = the format's normalizer):", "",
            "| path | bytes/token | SSE decode | orjson | normalize | ours stream() end to end |",
            "|---|---:|---:|---:|---:|---:|", *rows, ""]
