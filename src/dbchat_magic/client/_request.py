"""URLs and bodies for both styles: Databricks ``/invocations``, OpenAI ``/chat/completions``."""

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


def chat_url(host: str, endpoint: str, url_style: str) -> str:
    """Where to POST a chat request."""
    if url_style == "openai":
        return f"{openai_base(host)}/chat/completions"
    return f"{host}/serving-endpoints/{quote(endpoint, safe='')}/invocations"


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


def chat_body(messages: Sequence[Mapping[str, Any]], *, endpoint: str, url_style: str,
              temperature: float | None, max_tokens: int | None,
              extra: Mapping[str, Any]) -> bytes:
    """The JSON body: messages, sampling, ``stream: true`` and pass-through ``extra`` params.

    ``None`` values are left out; the OpenAI style adds ``model``. Raises `BadRequest` when the
    body is over the 4 MB limit, before anything is sent.
    """
    body: dict[str, Any] = {"messages": check_messages(messages)}
    if url_style == "openai":
        body["model"] = endpoint
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body.update({k: v for k, v in extra.items() if v is not None})
    body["stream"] = True
    try:
        raw = orjson.dumps(body)
    except TypeError as exc:
        raise ConfigError(f"request parameters are not JSON-serialisable: {exc}") from None
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"the request is {len(raw) / 2**20:.1f} MB; Databricks accepts at most "
                         "4 MB: shorten the context or history")
    return raw
