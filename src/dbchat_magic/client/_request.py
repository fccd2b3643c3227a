"""URLs and bodies per style and API: Databricks ``/invocations``, OpenAI ``/chat/completions``,
the Responses routes (``/responses``, ``/open-responses``); Chat Completions, ChatAgent and
Responses bodies (docs/notes/databricks-2026-protocol.md §1, §3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from dbchat_magic.errors import BadRequest, ConfigError

MAX_BODY_BYTES = 4 * 1024 * 1024  # Databricks rejects larger requests
_ROLES = frozenset({"system", "user", "assistant", "tool"})


def openai_base(host: str) -> str:
    """The OpenAI-compatible base: the host's own path if it has one (vLLM's ``/v1``), else
    ``{host}/serving-endpoints`` (Databricks)."""
    path = urlsplit(host).path
    return host if path not in ("", "/") else f"{host}/serving-endpoints"


def chat_url(host: str, endpoint: str, url_style: str, api: str = "chat") -> str:
    """Where to POST a request: ``open-responses`` always goes to its route; with url_style
    openai, ``responses`` goes to ``/responses`` and the rest to ``/chat/completions``; else the
    endpoint's ``/invocations``."""
    if api == "open-responses":
        return f"{openai_base(host)}/open-responses"
    if url_style == "openai":
        route = "responses" if api == "responses" else "chat/completions"
        return f"{openai_base(host)}/{route}"
    return f"{host}/serving-endpoints/{quote(endpoint, safe='')}/invocations"


def endpoint_url(host: str, endpoint: str) -> str:
    """Where to GET one serving endpoint's details (its ``task``)."""
    return f"{host}/api/2.0/serving-endpoints/{quote(endpoint, safe='')}"


def list_url(host: str, url_style: str) -> str:
    """Where to GET the endpoint (or model) list."""
    if url_style == "openai" and urlsplit(host).path not in ("", "/"):
        return f"{host}/models"
    return f"{host}/api/2.0/serving-endpoints"


def check_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Plain dicts with a known role and content; `ConfigError` naming the bad message."""
    if isinstance(messages, str | bytes) or not messages:
        raise ConfigError("messages must be a non-empty list of {'role', 'content'} dicts")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or m.get("role") not in _ROLES or "content" not in m:
            raise ConfigError(f"messages[{i}] needs a role ({', '.join(sorted(_ROLES))}) "
                              "and a content")
        out.append(dict(m))
    return out


def request_body(messages: Sequence[Mapping[str, Any]], *, endpoint: str, url_style: str,
                 api: str, temperature: float | None, max_tokens: int | None,
                 extra: Mapping[str, Any]) -> bytes:
    """The JSON body for ``api``, with ``stream: true`` and pass-through ``extra`` params
    (``context`` / ``custom_inputs`` for agents). ``None`` values are left out; the OpenAI style
    and the routes add ``model``. ChatAgent bodies carry no sampling parameters (its schema has
    none). `BadRequest` when the body is over the 4 MB limit, before anything is sent."""
    checked = check_messages(messages)
    body: dict[str, Any]
    if api in ("responses", "open-responses"):
        body = {"input": responses_input(checked)}
        sampling = {"temperature": temperature, "max_output_tokens": max_tokens}
    else:
        body = {"messages": checked}
        sampling = ({} if api == "agent-chat"
                    else {"temperature": temperature, "max_tokens": max_tokens})
    if url_style == "openai" or api == "open-responses":
        body["model"] = endpoint
    body.update({k: v for k, v in sampling.items() if v is not None})
    body.update({k: v for k, v in extra.items() if v is not None})
    body["stream"] = True
    return _encoded(body)


def chat_body(messages: Sequence[Mapping[str, Any]], *, endpoint: str, url_style: str,
              temperature: float | None, max_tokens: int | None,
              extra: Mapping[str, Any]) -> bytes:
    """The Chat Completions body (`request_body` with ``api="chat"``)."""
    return request_body(messages, endpoint=endpoint, url_style=url_style, api="chat",
                        temperature=temperature, max_tokens=max_tokens, extra=extra)


def responses_input(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as Responses ``input`` items: system (instruction) messages first, each
    its own ``role: system`` item as Databricks' examples send them, then the turns in order; a
    ``tool`` message (no Responses role) becomes a user turn saying it is a tool's output."""
    system = [{"role": "system", "content": m["content"]} for m in messages
              if m["role"] == "system"]
    turns = []
    for m in messages:
        if m["role"] == "tool":
            turns.append({"role": "user", "content": f"(tool output) {m['content']}"})
        elif m["role"] != "system":
            turns.append({"role": m["role"], "content": m["content"]})
    return system + turns


def _encoded(body: dict[str, Any]) -> bytes:
    try:
        raw = orjson.dumps(body)
    except TypeError as exc:
        raise ConfigError(f"request parameters are not JSON-serialisable: {exc}") from None
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"the request is {len(raw) / 2**20:.1f} MB; Databricks accepts at most "
                         "4 MB: shorten the context or history")
    return raw
