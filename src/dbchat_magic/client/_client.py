"""`ChatClient`: streams chat answers from a Databricks serving endpoint or an OpenAI-style one."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from dbchat_magic.auth import (
    CredentialProvider,
    Secret,
    install_log_scrubbing,
    resolve_credentials,
    scrubbed_logger,
)
from dbchat_magic.client._accumulate import ResultFiller
from dbchat_magic.client._deadlines import CallState, Deadlines
from dbchat_magic.client._errors import http_error, one_line, parse_error_body
from dbchat_magic.client._formats import wire_for
from dbchat_magic.client._kinds import TASK_APIS, EndpointKinds, Kind, api_for_task, task_of
from dbchat_magic.client._pool import import_transport, new_pool
from dbchat_magic.client._ratelimit import RateLimiter
from dbchat_magic.client._request import chat_url, endpoint_url, list_url, request_body
from dbchat_magic.client._retry import Backoff
from dbchat_magic.client._server_probe import (
    ModelList,
    base_of,
    has_path,
    probe_models,
    props_context,
)
from dbchat_magic.client._transport import open_stream, read_batches, read_events
from dbchat_magic.config import Settings
from dbchat_magic.errors import AuthError, BadRequest, DbChatError, RequestTimeout
from dbchat_magic.events import StreamEvent
from dbchat_magic.hosts import is_databricks_host
from dbchat_magic.result import ChatResult
from dbchat_magic.tokens import estimate_tokens

log = scrubbed_logger("dbchat_magic.client")
Message = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """A chat-capable serving endpoint: its name, whether it is ready, and its task."""

    name: str
    ready: bool
    task: str | None = None

    @property
    def api(self) -> str:
        """How dbchat talks to it (`dbchat_magic.config.APIS`), from its task."""
        return api_for_task(self.task)


class ChatClient:
    """Talks to one workspace (or OpenAI-style server) with `Settings` and resolved credentials.

    Credentials are resolved once here (headers are fetched per request); a missing credential
    makes every request fail with the chain's message instead of failing construction (a host
    holding user info fails it: `ConfigError`). Keeps one pooled ``httpx.AsyncClient`` per event
    loop; httpx and httpcore log records are scrubbed of credentials.
    """

    def __init__(self, settings: Settings | None = None, *, token: str | Secret | None = None,
                 host: str | None = None) -> None:
        install_log_scrubbing()
        self.settings = settings if settings is not None else Settings.load()
        self._provider: CredentialProvider | None = None
        self._credential_error: AuthError | None = None
        try:
            self._provider = resolve_credentials(self.settings, token=token, host=host)
        except AuthError as err:
            self._credential_error = err
        s = self.settings
        self._backoff = Backoff(s.retry_backoff, s.retry_max_wait)
        self._limiter = (RateLimiter(s.rate_limit_rpm, s.rate_limit_tpm, s.rate_limit_mode)
                         if s.rate_limit_rpm or s.rate_limit_tpm else None)
        self._kinds = EndpointKinds()
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())
        self._bases: dict[str, str] = {}  # OpenAI style: host → its probed base URL

    @property
    def credential_source(self) -> str:
        """Where the credentials came from, e.g. "environment (DATABRICKS_TOKEN)"."""
        return self._provider.source if self._provider is not None else "none found"

    @property
    def host(self) -> str:
        """The workspace URL requests go to ("" when no credentials were found)."""
        return self._provider.host if self._provider is not None else ""

    def __repr__(self) -> str:
        return (f"ChatClient(host={self.host!r}, endpoint={self.settings.endpoint!r}, "
                f"credentials={self.credential_source!r})")

    def _require_provider(self) -> CredentialProvider:
        if self._provider is None:
            assert self._credential_error is not None
            raise self._credential_error
        return self._provider

    def _pool(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        http = self._pools.get(loop)
        if http is None or http.is_closed:
            http = self._pools[loop] = new_pool(self.settings, self.host)
        return http

    async def warm_up(self) -> None:
        """Make this loop's pool and import what httpx loads on its first request (~0.2 s),
        so the first question does not pay for it. Optional; sends nothing."""
        self._pool()
        await asyncio.to_thread(import_transport)

    async def aclose(self) -> None:
        """Close this loop's connection pool (other loops' pools close with their loops)."""
        http = self._pools.pop(asyncio.get_running_loop(), None)
        if http is not None:
            await http.aclose()

    def stream(self, messages: Sequence[Message], *, endpoint: str | None = None,
               **params: Any) -> AsyncIterator[StreamEvent]:
        """Stream one answer: ``async for event in client.stream(messages): …``.

        Yields `TextDelta`, `ReasoningDelta`, `UsageUpdate` and finally `StreamEnd`; raises a
        `DbChatError` for HTTP errors, timeouts and mid-stream errors. ``temperature`` and
        ``max_tokens`` default to the settings; other ``params`` go into the body as they are.
        """
        state = CallState(endpoint or self.settings.endpoint)
        return read_events(self._batches(messages, state, params))

    def _batches(self, messages: Sequence[Message], state: CallState,
                 params: dict[str, Any]) -> AsyncGenerator[list[StreamEvent], None]:
        settings = self.settings
        deadlines = Deadlines(settings, state)
        temperature = params.pop("temperature", settings.temperature)
        max_tokens = params.pop("max_tokens", settings.max_tokens)

        async def send(provider: CredentialProvider, kind: Kind) -> httpx.Response:
            state.api = kind.api
            body = request_body(messages, endpoint=state.endpoint, url_style=settings.url_style,
                                api=kind.api, temperature=temperature, max_tokens=max_tokens,
                                extra=params)
            if self._limiter is not None and state.reservation is None:
                tokens = estimate_tokens(body.decode("utf-8", "replace"))  # the whole request
                state.reservation = await self._limiter.acquire(state.endpoint, tokens)
            if deadlines.total == float("inf"):
                deadlines.start()
            url = chat_url(await self._base(provider), state.endpoint, settings.url_style,
                           kind.api)
            if settings.url_style == "openai" and not url.endswith(_DATABRICKS_OPENAI):
                state.chat_route = url
            return await open_stream(self._pool(), provider, url, body, deadlines, self._backoff)

        async def opener() -> httpx.Response:
            provider = self._require_provider()
            state.host, state.source = provider.host, provider.source
            kind = await self.endpoint_kind(state.endpoint)
            try:
                return await send(provider, kind)
            except BadRequest:  # a schema error: the endpoint may have changed its kind
                if kind.source != "task" or not self._kinds.forget(state.endpoint):
                    raise
                fresh = await self.endpoint_kind(state.endpoint)
                if fresh.api == kind.api:
                    raise
                log.info("endpoint %s is now %s; asking again", state.endpoint, fresh.api)
                return await send(provider, fresh)

        return read_batches(opener, deadlines, lambda: wire_for(state.api))

    async def endpoint_kind(self, endpoint: str | None = None) -> Kind:
        """How to talk to ``endpoint``: the ``api`` setting when it is not ``auto``; else the
        endpoint's task, read once from the serving-endpoints API and cached (Chat Completions
        when it cannot be read, and always for url_style openai)."""
        endpoint = endpoint or self.settings.endpoint
        s = self.settings
        if s.api != "auto":
            return Kind(s.api, None, "setting")
        if s.url_style == "openai":
            return Kind("chat", None, "default")
        kind = self._kinds.get(endpoint)
        if kind is None:
            task = await self._read_task(endpoint)
            kind = Kind(api_for_task(task), task, "task" if task else "default")
            self._kinds.put(endpoint, kind)
        return kind

    async def _read_task(self, endpoint: str) -> str | None:
        """The endpoint's ``task``; None when it cannot be read (logged, never raised)."""
        provider = self._require_provider()
        url = endpoint_url(provider.host, endpoint)
        try:
            headers = await provider.headers()
            resp, body = await asyncio.wait_for(
                _get_bounded(self._pool(), url, headers, 256 * 1024),
                min(self.settings.first_byte_timeout, 15.0))
        except (asyncio.TimeoutError, httpx.HTTPError, DbChatError) as exc:
            log.info("could not read the task of %s: %s", endpoint, type(exc).__name__)
            return None
        if resp.status_code != 200:
            log.info("could not read the task of %s: HTTP %s", endpoint, resp.status_code)
            return None
        return task_of(body)

    async def complete(self, messages: Sequence[Message], *, endpoint: str | None = None,
                       result: ChatResult | None = None,
                       on_event: Callable[[StreamEvent], object] | None = None,
                       **params: Any) -> ChatResult:
        """Stream one answer into ``result`` (a new `ChatResult` if None) and return it.

        Never raises a `DbChatError`: the result becomes "failed" with a one-line ``error`` and the
        partial text kept. On cancellation it becomes "stopped" (text and metrics kept) and the
        `CancelledError` propagates. ``on_event`` is called after each event is applied.
        """
        result = result if result is not None else ChatResult()
        state = CallState(endpoint or self.settings.endpoint)
        filler = ResultFiller(result, state.endpoint, messages)
        state.on_retry = filler.retrying
        try:
            async with contextlib.aclosing(self._batches(messages, state, params)) as batches:
                apply, tick = filler.apply, filler.tick
                async for batch in batches:  # the events of one network read
                    for ev in batch:
                        apply(ev)
                        if on_event is not None:
                            _notify(on_event, ev)
                    tick()
        except asyncio.CancelledError:
            _apply_unsent_usage(filler, state)
            filler.finish("stopped", retries=state.retries, warnings=state.warnings)
            raise
        except DbChatError as err:
            _apply_unsent_usage(filler, state)
            filler.finish("failed", error=err, retries=state.retries,
                          warnings=state.warnings)
        except Exception as exc:  # a bug must not leave a live-looking result behind
            log.exception("unexpected error while streaming from %s", state.endpoint)
            filler.finish("failed", error=one_line(f"unexpected error: {type(exc).__name__}: "
                                                   f"{exc}"), retries=state.retries)
        else:
            end = filler.end
            status = end.status if end is not None else "truncated"
            filler.finish(status, error=state.truncation if status == "truncated" else None,
                          retries=state.retries, warnings=state.warnings)
        return result

    async def _base(self, provider: CredentialProvider) -> str:
        """The host, or for the OpenAI style its base URL (the rule: `_server_probe`; a bare
        host is probed once, a Databricks workspace host never)."""
        host = provider.host
        if self.settings.url_style != "openai" or has_path(host):
            return host
        if is_databricks_host(host):
            return base_of(host, v1=False)
        base = self._bases.get(host)
        if base is None:
            listed = await probe_models(self._pool(), base_of(host, v1=True),
                                        await provider.headers())
            base = base_of(host, v1=listed.openai)
            if listed.status is not None:  # no answer: ask again next time
                self._bases[host] = base
        return base

    async def probe(self) -> ModelList:
        """OpenAI style: one ``GET {base}/models`` (the models the server lists, any context
        window it names); sends no chat request. `AuthError` without credentials."""
        provider = self._require_provider()
        base = await self._base(provider)
        if self.settings.url_style == "openai" and not _databricks_route(provider.host, base):
            headers = await provider.headers()
            listed = await probe_models(self._pool(), base, headers)
            if listed.models and not listed.context:  # llama.cpp's llama-server: /props
                size = await props_context(self._pool(), provider.host, headers)
                if size is not None:
                    listed = dataclasses.replace(
                        listed, context=tuple((model, size) for model in listed.models))
            return listed
        return ModelList(list_url(base, self.settings.url_style), None, problem="not OpenAI")

    async def list_endpoints(self) -> list[EndpointInfo]:
        """The endpoints dbchat can talk to (chat models and agents, `TASK_APIS`) with their
        ready state and task; their kinds are cached for the next question."""
        provider = self._require_provider()
        s = self.settings
        base = await self._base(provider)
        databricks = s.url_style != "openai" or _databricks_route(provider.host, base)
        url = list_url(provider.host if databricks else base, s.url_style)
        headers = await provider.headers()
        try:
            resp, body = await asyncio.wait_for(
                _get_bounded(self._pool(), url, headers, s.max_body_bytes), s.first_byte_timeout)
        except asyncio.TimeoutError:
            raise RequestTimeout(f"listing endpoints on {provider.host} took longer than "
                                 f"{s.first_byte_timeout:g} s (first_byte_timeout)") from None
        except httpx.HTTPError as exc:
            from dbchat_magic.client._errors import connect_error

            raise connect_error(exc, provider.host, 0) from None
        if resp.status_code >= 400:
            err = parse_error_body(body, resp.headers.get("content-type", ""))
            if resp.status_code in (401, 403):
                raise AuthError(f"listing endpoints on {provider.host} was refused (HTTP "
                                f"{resp.status_code}) with the credentials from "
                                f"{provider.source}: {one_line(err.message, 120) or 'denied'}",
                                status_code=resp.status_code)
            route = None if databricks else url
            raise http_error(resp.status_code, err, endpoint="(endpoint list)",
                             host=provider.host, source=provider.source, retries=0,
                             route=route)
        if len(body) > s.max_body_bytes:
            raise DbChatError(f"the endpoint list from {provider.host} is larger than "
                              f"{s.max_body_bytes:,} bytes (max_body_bytes)")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise DbChatError(f"the endpoint list from {provider.host} is not JSON") from None
        if isinstance(data, dict) and isinstance(data.get("data"), list):  # OpenAI /models
            return [EndpointInfo(str(m.get("id")), True, "llm/v1/chat")
                    for m in data["data"] if isinstance(m, dict) and m.get("id")]
        found = []
        for ep in (data.get("endpoints") or []) if isinstance(data, dict) else []:
            if not isinstance(ep, dict) or ep.get("task") not in TASK_APIS:
                continue
            state = ep.get("state") or {}
            info = EndpointInfo(str(ep.get("name")), state.get("ready") == "READY", ep["task"])
            found.append(info)
            self._kinds.put(info.name, Kind(info.api, info.task, "task"))
        return sorted(found, key=lambda e: e.name)


async def _get_bounded(http: httpx.AsyncClient, url: str, headers: dict[str, str],
                       limit: int) -> tuple[httpx.Response, bytes]:
    """GET ``url``; the body is read up to one piece past ``limit`` bytes, never further."""
    async with http.stream("GET", url, headers=headers) as resp:
        body = bytearray()
        async for piece in resp.aiter_bytes():
            body += piece
            if len(body) > limit:
                break
        return resp, bytes(body)


_DATABRICKS_OPENAI = "/serving-endpoints/chat/completions"


def _databricks_route(host: str, base: str) -> bool:
    """A bare host whose OpenAI base is Databricks' ``/serving-endpoints``."""
    return not has_path(host) and base == base_of(host, v1=False)


def _notify(callback: Callable[[StreamEvent], object], ev: StreamEvent) -> None:
    try:
        callback(ev)
    except Exception:  # a broken display must not break the stream
        log.exception("on_event callback failed")


def _apply_unsent_usage(filler: ResultFiller, state: CallState) -> None:
    """A stream cut short: take the server's last running usage (events thin it out)."""
    if state.normalizer is not None and (usage := state.normalizer.unsent_usage()) is not None:
        filler.apply(usage)
