"""Helpers for the real_llm tests: today's client settings, reference answers, socket counts."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx

from dbchat_magic.config import Settings
from waiting import until, wait_until

# Today's client refuses to send without a token, even to a server that needs none (issue 12
# item 4); the server ignores it. Not a credential of anything.
PLACEHOLDER_TOKEN = "local-llama-needs-no-token"
COLOURS = [{"role": "user", "content": "Name three colours."}]
T = TypeVar("T")


def settings_for(server: Any, **changes: Any) -> Settings:
    """OpenAI-style settings for ``server`` as a user writes them today (host ends in /v1)."""
    base = {"url_style": "openai", "host": server.base_url, "endpoint": "smollm2",
            "temperature": 0.0, "max_tokens": 48, "max_retries": 0}
    return Settings(**{**base, **changes})


def reference(server: Any, messages: Sequence[Mapping[str, Any]], **params: Any) -> dict[str, Any]:
    """The server's non-streamed answer (plain httpx): the JSON body."""
    body = {"model": server.model_id, "messages": list(messages), "temperature": 0.0,
            "stream": False, **params}
    resp = httpx.post(f"{server.base_url}/chat/completions", json=body,
                      headers=server.headers(), timeout=300)
    resp.raise_for_status()
    return resp.json()  # type: ignore[no-any-return]


def same_cache_state(server: Any, messages: Sequence[Mapping[str, Any]]) -> None:
    """Ask ``messages`` with another last question (one token), so that the next request for
    ``messages`` is evaluated from the same cache state each time it follows this call.

    llama-cpp-python reuses the longest cached prompt prefix; an identical prompt asked twice in
    a row re-evaluates only its last token, and at temperature 0 a near-tie can then flip (seen:
    "1. Red: This is…" vs "1. Red: The most…"). Two requests compared for equality must start
    from the same state. Keeping the earlier messages (a long system prompt) cached means only
    the question is evaluated again, not the whole prompt.
    """
    *earlier, _last = messages
    body = {"model": server.model_id, "max_tokens": 1, "temperature": 0.0,
            "messages": [*earlier, {"role": "user", "content": "Say OK."}]}
    httpx.post(f"{server.base_url}/chat/completions", json=body, headers=server.headers(),
               timeout=300).raise_for_status()


def eos_token_id(server: Any) -> int:
    """The model's end-of-turn token (``<|im_end|>``), from the server's tokenizer."""
    resp = httpx.post(f"{server.root_url}/extras/tokenize", json={"input": "<|im_end|>"},
                      headers=server.headers(), timeout=30)
    resp.raise_for_status()
    (token,) = resp.json()["tokens"]
    return int(token)


def own_connections(port: int) -> list[int]:
    """Local ports of this process's ESTABLISHED TCP connections to 127.0.0.1:``port``."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            local, remote, state, inode = cols[1], cols[2], cols[3], cols[9]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port and inode in inodes:
                found.append(int(local.rsplit(":", 1)[1], 16))
    return sorted(found)


def wait_for(probe: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """Poll ``probe`` until it returns something truthy (`waiting.wait_until`)."""
    return cast(T, wait_until(probe, what, timeout, 0.05))


async def async_wait_for(probe: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """`wait_for` for a coroutine (`waiting.until`)."""
    return cast(T, await until(probe, what, timeout, 0.02))
