"""Helpers shared by the client and simulator tests (no tests here): a `ChatClient` bound to a
simulator, one question on a fresh loop, a raw httpx client with the simulator's token."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from dbchat_magic.client import ChatClient, ChatResult
from dbchat_magic.config import Settings
from dbchat_magic.simulator import Simulator

QUESTION = [{"role": "user", "content": "How are sales?"}]


def client_for(sim: Simulator, **settings: Any) -> ChatClient:
    """A client pointed at ``sim`` with its token; short backoff so retry tests stay fast."""
    settings.setdefault("retry_backoff", 0.01)
    return ChatClient(Settings(host=sim.url, **settings), token=sim.token)


def ask(client: ChatClient, messages: list[dict[str, Any]] | None = None,
        **params: Any) -> ChatResult:
    """One `complete` call on a fresh loop (closing the pool afterwards)."""
    async def go() -> ChatResult:
        try:
            return await client.complete(messages or QUESTION, **params)
        finally:
            await client.aclose()
    return asyncio.run(go())


def expected_text(sim: Simulator) -> str:
    """The answer text a correct client shows for the simulator's last request."""
    return sim.stats.log[-1].text


def http_client(sim: Simulator, token: str | None = "default") -> httpx.Client:
    """A plain httpx client for ``sim`` sending ``token`` (default: the simulator's; None: no
    Authorization header)."""
    value = sim.token if token == "default" else token
    headers = {} if value is None else {"Authorization": f"Bearer {value}"}
    return httpx.Client(base_url=sim.url, headers=headers, timeout=10)
