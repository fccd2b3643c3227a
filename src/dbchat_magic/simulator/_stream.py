"""Chat chunks on the wire: SSE events per endpoint style and fault, paced and split."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from dbchat_magic.simulator._endpoints import Endpoint
from dbchat_magic.simulator._faults import Fault
from dbchat_magic.simulator._hostile import RawPiece, hostile_events
from dbchat_magic.simulator._http import Connection
from dbchat_magic.simulator._responders import Reply, tokenize
from dbchat_magic.simulator._stats import LogEntry

Chunking = Literal["event", "many", "random"]
CHUNKINGS = ("event", "many", "random")
EVENTS_PER_WRITE = 8  # "many" chunking

# Leaked Llama special tokens: (position, wire pieces). Stripped, they leave the text unchanged.
_SPECIAL_HEAD = ["<|begin_of_text|>"]
_SPECIAL_MIDDLE = ["<|reserved_spe", "cial_token_7|>"]
_SPECIAL_TAIL = ["<|eo", "t_id|>"]
_U2028_TOKENS = [" line\u2028sep", " para\u2029sep", " next\u0085line"]


class Gate:
    """Holds every stream before its token number ``after_tokens`` until `open` is called.

    Tests use it to see something happen mid-stream without racing the clock: the stream cannot
    end before the test has looked. ``reached`` is set once a stream waits at the gate; a gate
    left shut lets streams go on after ``limit`` seconds, so a failed test cannot hang a server.
    """

    def __init__(self, after_tokens: int, limit: float = 300.0) -> None:
        self.after_tokens = after_tokens
        self.limit = limit
        self.reached = threading.Event()
        self._open = threading.Event()

    def open(self) -> None:
        """Let waiting and later streams through."""
        self._open.set()

    async def wait(self) -> None:
        """Wait at the gate (on the server's loop) until it opens or ``limit`` passes."""
        self.reached.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limit
        while not self._open.is_set() and loop.time() < deadline:
            await asyncio.sleep(0.02)


@dataclass
class Pacing:
    """How fast and in what pieces a stream goes out (and where it waits, see `Gate`)."""

    tokens_per_second: float | None = None
    first_token_delay: float = 0.0
    chunking: Chunking = "event"
    seed: int = 0
    gate: Gate | None = None

    def __post_init__(self) -> None:
        if self.chunking not in CHUNKINGS:
            raise ValueError(f"chunking must be one of {CHUNKINGS}, not {self.chunking!r}")
        if self.tokens_per_second is not None and self.tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be > 0 or None (unpaced)")
        if self.first_token_delay < 0:
            raise ValueError("first_token_delay must be >= 0")


@dataclass
class Answer:
    """What one request answers: wire tokens (kind, text), the clean text and the finish reason."""

    tokens: list[tuple[str, str]]
    text: str
    reasoning: str
    finish_reason: str
    completion_tokens: int


def sent_text(answer: Answer, faults: dict[str, Fault]) -> str:
    """The answer text a correct client shows once the cutting faults (if any) have struck."""
    cut = len(answer.tokens)
    cutting = (("disconnect", 5), ("error_midstream", 3), ("no_done", cut), ("broken_framing", 5))
    for name, default in cutting:
        if name in faults:
            cut = min(cut, int(faults[name].params.get("after", default)))
    return "".join(t for kind, t in answer.tokens[:cut] if kind == "text")


def plan_answer(
    reply: Reply,
    endpoint: Endpoint,
    faults: dict[str, Fault],
    max_tokens: int | None,
    default_reasoning: str,
) -> Answer:
    """Turn a reply into the token sequence to send, honouring max_tokens and content faults."""
    reasoning_text = reply.reasoning
    if "reasoning" in faults:
        reasoning_text = faults["reasoning"].params.get("reasoning") or reasoning_text
    if reasoning_text is None and (endpoint.style == "reasoning" or "reasoning" in faults):
        reasoning_text = default_reasoning
    text_tokens = tokenize(reply.text)
    if "u2028" in faults:
        mid = len(text_tokens) // 2
        text_tokens[mid:mid] = _U2028_TOKENS
    r_tokens = tokenize(reasoning_text or "")
    finish = "stop"
    if max_tokens is not None and len(r_tokens) + len(text_tokens) > max_tokens:
        finish = "length"
        r_tokens = r_tokens[:max_tokens]
        text_tokens = text_tokens[: max(0, max_tokens - len(r_tokens))]
    tokens = [("reasoning", t) for t in r_tokens] + [("text", t) for t in text_tokens]
    clean_count = len(tokens)
    if "special_tokens" in faults and text_tokens:
        first = len(r_tokens)
        wire = [("special", s) for s in _SPECIAL_HEAD] + tokens[first:]
        mid = first + 1 + len(text_tokens) // 2
        wire[mid - first : mid - first] = [("special", s) for s in _SPECIAL_MIDDLE]
        tokens = tokens[:first] + wire + [("special", s) for s in _SPECIAL_TAIL]
    return Answer(tokens, "".join(text_tokens), "".join(r_tokens), finish, clean_count)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@dataclass
class ChunkBuilder:
    """Builds ``data:`` events in the endpoint's style (prefixes precomputed, so 100k are cheap)."""

    endpoint: Endpoint
    prompt_tokens: int
    blocks: bool
    crlf: bool = False
    chunk_id: str = "chatcmpl-sim"
    created: int = field(default_factory=lambda: int(time.time()))
    _cache: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.eol = "\r\n" if self.crlf else "\n"
        self._head = (
            f'data: {{"id":"{self.chunk_id}","object":"chat.completion.chunk",'
            f'"created":{self.created},"model":"{self.endpoint.model}","choices":[{{"index":0,'
        )

    def _usage(self, n: int | None, final: bool) -> str:
        p = self.prompt_tokens
        style = self.endpoint.style
        if final or style == "llama":
            t = p + (n or 0)
            return f',"usage":{{"prompt_tokens":{p},"completion_tokens":{n},"total_tokens":{t}}}'
        if style == "claude" and n is None:
            return f',"usage":{{"prompt_tokens":{p},"completion_tokens":null,"total_tokens":null}}'
        return ""

    def event(self, delta: str, finish: str | None, usage: str) -> bytes:
        """One complete event around a pre-serialized delta object."""
        fin = "null" if finish is None else f'"{finish}"'
        return (
            f'{self._head}"delta":{delta},"finish_reason":{fin},"logprobs":null}}]{usage}}}'
            f"{self.eol}{self.eol}"
        ).encode()

    def role(self) -> bytes:
        """The first event: ``{"role":"assistant","content":""}``."""
        usage = self._usage(0 if self.endpoint.style == "llama" else None, False)
        return self.event('{"role":"assistant","content":""}', None, usage)

    def token(self, kind: str, text: str, sent: int) -> bytes:
        """A content event carrying one token; ``sent`` = completion tokens so far."""
        key = kind + text
        delta = self._cache.get(key)
        if delta is None:
            if kind == "reasoning":
                block = {"type": "reasoning", "summary": [{"type": "summary_text", "text": text}]}
                delta = _dumps({"content": [block]})
            elif self.blocks:
                delta = _dumps({"content": [{"type": "text", "text": text}]})
            else:
                delta = '{"content":' + _dumps(text) + "}"
            if len(self._cache) < 4096:
                self._cache[key] = delta
        usage = self._usage(sent, False) if self.endpoint.style == "llama" else ""
        return self.event(delta, None, usage)

    def final(self, finish: str, completion_tokens: int) -> bytes:
        """The last chunk: empty delta, the finish reason and total usage."""
        return self.event('{"content":""}', finish, self._usage(completion_tokens, True))

    def data(self, payload: str) -> bytes:
        """A raw ``data:`` event."""
        return f"data: {payload}{self.eol}{self.eol}".encode()

    def comment(self, text: str) -> bytes:
        """A comment line (keep-alive)."""
        return f": {text}{self.eol}{self.eol}".encode()


_MALFORMED = '{"id":"chatcmpl-sim","choices":[{"index":0,"delta":{"content":"oops'


def _midstream_error(params: dict[str, Any]) -> str:
    message = params.get("message") or "Model server error: the request failed (simulated)."
    if params.get("shape", "error_code") == "error":
        return _dumps({"error": {"message": message, "type": "server_error", "code": 500}})
    return _dumps({"error_code": "INTERNAL_ERROR", "message": message})


def sse_events(
    answer: Answer, builder: ChunkBuilder, faults: dict[str, Fault]
) -> Iterator[tuple[bytes, int]]:
    """The stream as (event bytes, token events in it); ends early for the cutting faults. A
    `RawPiece` goes out outside the chunked framing."""
    yield builder.role(), 0
    yield from hostile_events(faults, builder.eol.encode(), sse_stream(answer, builder, faults))


def sse_stream(
    answer: Answer, builder: ChunkBuilder, faults: dict[str, Fault]
) -> Iterator[tuple[bytes, int]]:
    """The events after the role event (see `sse_events`)."""
    keep = faults.get("keepalive")
    every = int(keep.params.get("every", 1)) if keep else 0
    comment = keep.params.get("comment", "keep-alive") if keep else ""
    cut_at = {
        name: int(faults[name].params.get("after", default))
        for name, default in (("disconnect", 5), ("error_midstream", 3), ("no_done", 10**12))
        if name in faults
    }
    malformed_at = (
        int(faults["malformed_chunk"].params.get("after", 3)) if "malformed_chunk" in faults else -1
    )
    sent = 0
    for i, (kind, text) in enumerate(answer.tokens):
        if i == malformed_at:
            yield builder.data(_MALFORMED), 0
        if "error_midstream" in cut_at and i == cut_at["error_midstream"]:
            yield builder.data(_midstream_error(faults["error_midstream"].params)), 0
            return
        if min(cut_at.get("disconnect", 10**12), cut_at.get("no_done", 10**12)) <= i:
            return
        if kind != "special":
            sent += 1
        yield builder.token(kind, text, sent), 1
        if every and (i + 1) % every == 0:
            yield builder.comment(comment), 0
    if "error_midstream" in cut_at:
        yield builder.data(_midstream_error(faults["error_midstream"].params)), 0
        return
    if "disconnect" in cut_at or "no_done" in cut_at:
        return
    yield builder.final(answer.finish_reason, answer.completion_tokens), 0
    yield builder.data("[DONE]"), 0


def random_pieces(data: bytes, rng: random.Random) -> list[bytes]:
    """Split bytes at random points, always between CR and LF and often inside UTF-8 sequences."""
    cuts = []
    for pos in range(1, len(data)):
        byte, prev = data[pos], data[pos - 1]
        if (
            (prev == 0x0D and byte == 0x0A)
            or (0x80 <= byte < 0xC0 and rng.random() < 0.5)
            or rng.random() < 0.08
        ):
            cuts.append(pos)
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


async def send_events(
    conn: Connection,
    events: Iterator[tuple[bytes, int]],
    pacing: Pacing,
    entry: LogEntry,
) -> None:
    """Write events with pacing and chunking; ``entry.tokens_sent`` follows what went out.

    Each piece (an event for "event", eight events for "many", a random slice for "random") is
    its own HTTP chunk, so the client receives exactly those pieces. Pieces that are already due
    share one socket write (up to 64 KiB): that changes nothing the client can see but lets an
    unpaced stream go out fast enough to benchmark clients against.
    """
    loop = asyncio.get_running_loop()
    interval = 1.0 / pacing.tokens_per_second if pacing.tokens_per_second else 0.0
    if pacing.first_token_delay > 0:
        await asyncio.sleep(pacing.first_token_delay)
    start = loop.time()
    many = pacing.chunking == "many"
    rng = random.Random(pacing.seed) if pacing.chunking == "random" else None
    pieces: list[bytes] = []
    size = tokens_out = n_tokens = group_tokens = 0
    group: list[bytes] = []

    async def flush() -> None:
        nonlocal pieces, size, tokens_out, group_tokens
        if group:
            pieces.append(b"".join(group))
            group.clear()
            group_tokens = 0
        if pieces:
            conn.write_chunks(pieces)
            pieces, size = [], 0
            await conn.drain()
        entry.tokens_sent += tokens_out
        tokens_out = 0

    for data, tokens in events:
        if tokens and pacing.gate is not None and n_tokens == pacing.gate.after_tokens:
            await flush()
            await pacing.gate.wait()
        if tokens:
            if interval and not group_tokens:
                delay = start + n_tokens * interval - loop.time()
                if delay > 0:
                    await flush()
                    await asyncio.sleep(delay)
            n_tokens += 1
            tokens_out += 1
            group_tokens += many
        if type(data) is RawPiece:  # outside the framing: never joined or split
            if group:
                pieces.append(b"".join(group))
                group.clear()
            pieces.append(data)
        elif many:
            group.append(data)
            if len(group) >= EVENTS_PER_WRITE:
                pieces.append(b"".join(group))
                group.clear()
                group_tokens = 0
        elif rng is not None:
            pieces += random_pieces(data, rng)
        else:
            pieces.append(data)
        size += len(data)
        if size >= 65536:
            await flush()
    await flush()


def completion_payload(answer: Answer, endpoint: Endpoint, prompt_tokens: int) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body."""
    content: Any = answer.text
    if endpoint.style == "reasoning" or answer.reasoning:
        summary = [{"type": "summary_text", "text": answer.reasoning}]
        content = [{"type": "reasoning", "summary": summary}, {"type": "text", "text": answer.text}]
    n = answer.completion_tokens
    return {
        "id": f"chatcmpl_{uuid.uuid4()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": endpoint.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": answer.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": n,
            "total_tokens": prompt_tokens + n,
        },
    }

