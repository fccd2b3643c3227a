"""The stream consumers compared by bench_engine.py: ours, httpx-sse, openai-python, raw httpx.

Each consumer is an async function ``(target, n_tokens, on_token) -> int`` that asks the simulator
for an ``n_tokens`` answer, calls ``on_token()`` for every content piece it receives (so the caller
can time the first one or stop after k), and returns the number of content pieces. Peers do the
minimum a real consumer does: decode the event, parse the JSON, pull out ``delta.content``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

LLAMA = "databricks-meta-llama-3-3-70b-instruct"
QUESTION = [{"role": "user", "content": "Describe the sales trend by region"}]

OnToken = Callable[[], None]
Consumer = Callable[["Target", int, OnToken], Awaitable[int]]


@dataclass
class Target:
    """A running simulator (host, token) plus the clients each consumer keeps between calls."""

    host: str
    token: str
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def body(self, n: int) -> dict[str, Any]:
        return {"messages": QUESTION, "stream": True, "max_tokens": n, "reply_tokens": n}

    def httpx_client(self) -> httpx.AsyncClient:
        c = self.clients.get("httpx")
        if c is None:
            c = self.clients["httpx"] = httpx.AsyncClient(
                headers=self.headers, timeout=httpx.Timeout(120, connect=5)
            )
        return c

    async def aclose(self) -> None:
        for c in self.clients.values():
            await c.aclose() if hasattr(c, "aclose") else await c.close()
        self.clients.clear()


async def raw_httpx(t: Target, n: int, on_token: OnToken) -> int:
    """Floor: httpx with no parsing at all (one on_token call per received piece)."""
    url = f"{t.host}/serving-endpoints/{LLAMA}/invocations"
    pieces = 0
    async with t.httpx_client().stream("POST", url, json=t.body(n)) as r:
        r.raise_for_status()
        async for _ in r.aiter_raw():
            pieces += 1
            on_token()
    return pieces


async def httpx_sse(t: Target, n: int, on_token: OnToken) -> int:
    """httpx-sse's aiter_sse + json.loads; drains the stream after [DONE]."""
    from httpx_sse import aconnect_sse

    url = f"{t.host}/serving-endpoints/{LLAMA}/invocations"
    count = 0
    async with aconnect_sse(t.httpx_client(), "POST", url, json=t.body(n)) as source:
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            if sse.data == "[DONE]":
                continue
            delta = json.loads(sse.data)["choices"][0]["delta"]
            if delta.get("content"):
                count += 1
                on_token()
    return count


async def httpx_sse_break(t: Target, n: int, on_token: OnToken) -> int:
    """httpx-sse, the common way: ``break`` on [DONE] (closes the connection)."""
    from httpx_sse import aconnect_sse

    url = f"{t.host}/serving-endpoints/{LLAMA}/invocations"
    count = 0
    async with aconnect_sse(t.httpx_client(), "POST", url, json=t.body(n)) as source:
        async for sse in source.aiter_sse():
            if sse.data == "[DONE]":
                break
            if json.loads(sse.data)["choices"][0]["delta"].get("content"):
                count += 1
                on_token()
    return count


async def openai_python(t: Target, n: int, on_token: OnToken) -> int:
    """openai-python's AsyncOpenAI against the OpenAI-compatible route."""
    client = t.clients.get("openai")
    if client is None:
        from openai import AsyncOpenAI

        client = t.clients["openai"] = AsyncOpenAI(
            base_url=f"{t.host}/serving-endpoints", api_key=t.token, max_retries=0
        )
    stream = await client.chat.completions.create(
        model=LLAMA, messages=QUESTION, stream=True, max_tokens=n,
        extra_body={"reply_tokens": n},
    )
    count = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            count += 1
            on_token()
    return count


def _ours_client(t: Target) -> Any:
    client = t.clients.get("ours")
    if client is None:
        from dbchat_magic.client import ChatClient
        from dbchat_magic.config import Settings

        settings = Settings().replace(host=t.host, endpoint=LLAMA, total_timeout=600.0)
        client = t.clients["ours"] = ChatClient(settings, token=t.token, host=t.host)
    return client


async def ours_stream(t: Target, n: int, on_token: OnToken) -> int:
    """dbchat-magic's ChatClient.stream(): typed events."""
    from dbchat_magic.events import TextDelta

    count = 0
    async for event in _ours_client(t).stream(
        QUESTION, endpoint=LLAMA, max_tokens=n, reply_tokens=n
    ):
        if type(event) is TextDelta:
            count += 1
            on_token()
    return count


async def ours_complete(t: Target, n: int, on_token: OnToken) -> int:
    """dbchat-magic's ChatClient.complete(): what the notebook runs (fills a live ChatResult)."""
    from dbchat_magic.events import TextDelta

    count = 0

    def on_event(event: object) -> None:
        nonlocal count
        if type(event) is TextDelta:
            count += 1
            on_token()

    result = await _ours_client(t).complete(
        QUESTION, endpoint=LLAMA, on_event=on_event, max_tokens=n, reply_tokens=n
    )
    if result.status != "completed":
        raise RuntimeError(f"ours_complete: {result.status}: {result.error}")
    return count


PEERS: dict[str, Consumer] = {
    "raw httpx (no parsing)": raw_httpx,
    "httpx-sse": httpx_sse,
    "openai-python": openai_python,
}
OURS: dict[str, Consumer] = {
    "dbchat-magic stream()": ours_stream,
    "dbchat-magic complete()": ours_complete,
}
