"""Where an OpenAI-compatible server keeps its routes, and what it says about its models.

The base URL rule (documented in the README, "Other servers"): for ``url_style="openai"``

- a host with a path (``http://h:8000/v1``, ``https://api.openai.com/v1``) is the base as given:
  requests go to ``{host}/chat/completions`` and ``{host}/models``;
- a host without a path (``http://h:8000``) is probed once per client with ``GET {host}/v1/models``:
  any answer but 404 (200, or 401/403 from a server that wants a token) means ``{host}/v1``; a 404
  means a Databricks workspace, whose OpenAI-compatible routes are ``{host}/serving-endpoints``.

`probe_models` also reads the context window where the server says it: vLLM's ``max_model_len``
(and ``context_length``/``context_window`` of other servers) in ``/models``, llama.cpp's
``/props`` (``n_ctx``). llama-cpp-python says neither: ``context_tokens`` must then be set.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

__all__ = ["ModelList", "base_of", "has_path", "probe_models", "props_context"]

_PROBE_TIMEOUT = 10.0
_PROBE_LIMIT = 4 * 2**20
_CONTEXT_KEYS = ("max_model_len", "context_length", "context_window", "n_ctx")


def has_path(host: str) -> bool:
    """Whether the URL has a path beyond ``/``."""
    return urlsplit(host).path not in ("", "/")


def base_of(host: str, v1: bool) -> str:
    """The OpenAI-compatible base of ``host``: as given with a path, else ``/v1`` (``v1``) or
    Databricks' ``/serving-endpoints``."""
    if has_path(host):
        return host
    return f"{host}/v1" if v1 else f"{host}/serving-endpoints"


@dataclass(frozen=True)
class ModelList:
    """One ``GET {base}/models``: the status (None = no answer), model ids, context windows."""

    url: str
    status: int | None
    models: tuple[str, ...] = ()
    context: tuple[tuple[str, int], ...] = ()  # (model id, context window) where listed
    problem: str = ""  # why there was no answer (transport error)

    @property
    def openai(self) -> bool:
        """The route exists: a model list, or a refusal asking for a token."""
        return self.status in (401, 403) or (self.status == 200 and bool(self.models))

    def context_of(self, model: str) -> int | None:
        return dict(self.context).get(model)


async def _get_json(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[
        int, Any]:
    async with http.stream("GET", url, headers=headers, timeout=_PROBE_TIMEOUT) as resp:
        body = bytearray()
        async for piece in resp.aiter_bytes():
            body += piece
            if len(body) > _PROBE_LIMIT:
                return resp.status_code, None
    try:
        return resp.status_code, orjson.loads(bytes(body))
    except orjson.JSONDecodeError:
        return resp.status_code, None


def _context_of(entry: dict[str, Any]) -> int | None:
    for key in _CONTEXT_KEYS:
        value = entry.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


async def probe_models(http: httpx.AsyncClient, base: str,
                       headers: dict[str, str]) -> ModelList:
    """``GET {base}/models`` once: ids and any context window the entries name."""
    url = f"{base}/models"
    try:
        status, data = await _get_json(http, url, headers)
    except httpx.HTTPError as exc:
        return ModelList(url, None, problem=type(exc).__name__)
    entries = data.get("data") if isinstance(data, dict) else None
    if status != 200 or not isinstance(entries, list):
        return ModelList(url, status)
    models, context = [], []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]:
            models.append(entry["id"])
            if (n := _context_of(entry)) is not None:
                context.append((entry["id"], n))
    return ModelList(url, status, tuple(models), tuple(context))


async def props_context(http: httpx.AsyncClient, host: str,
                        headers: dict[str, str]) -> int | None:
    """llama.cpp ``llama-server``'s ``GET /props`` context size, or None where there is none."""
    root = urlsplit(host)._replace(path="", query="", fragment="").geturl()
    with contextlib.suppress(httpx.HTTPError):
        status, data = await _get_json(http, f"{root}/props", headers)
        if status == 200 and isinstance(data, dict):
            settings = data.get("default_generation_settings")
            found = _context_of(settings) if isinstance(settings, dict) else None
            return found or _context_of(data)
    return None
