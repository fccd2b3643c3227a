"""`ChatClient`: streams chat answers from a Databricks serving endpoint or an OpenAI-style one."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
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
from dbchat_magic.client._ratelimit import RateLimiter
from dbchat_magic.client._request import chat_body, chat_url, list_url
from dbchat_magic.client._retry import Backoff
from dbchat_magic.client._transport import (
    DROPPED_MID_ANSWER,
    open_stream,
    read_batches,
    read_events,
)
from dbchat_magic.config import Settings
from dbchat_magic.errors import AuthError, DbChatError, RequestTimeout
from dbchat_magic.events import StreamEvent
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
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())

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
            s = self.settings
            http = httpx.AsyncClient(
                verify=_tls_context(self.host),
                timeout=httpx.Timeout(connect=s.connect_timeout, read=None, write=s.gap_timeout,
                                      pool=s.connect_timeout),
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=8,
                                    keepalive_expiry=60.0),
                follow_redirects=False)
            self._pools[loop] = http
        return http

    async def warm_up(self) -> None:
        """Make this loop's pool and import what httpx loads on its first request (~0.2 s),
        so the first question does not pay for it. Optional; sends nothing."""
        self._pool()
        await asyncio.to_thread(_import_transport)

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
                 params: dict[str, Any]) -> AsyncIterator[list[StreamEvent]]:
        settings = self.settings
        deadlines = Deadlines(settings, state)

        async def opener() -> httpx.Response:
            provider = self._require_provider()
            state.host, state.source = provider.host, provider.source
            body = chat_body(messages, endpoint=state.endpoint, url_style=settings.url_style,
                             temperature=params.pop("temperature", settings.temperature),
                             max_tokens=params.pop("max_tokens", settings.max_tokens),
                             extra=params)
            if self._limiter is not None:
                tokens = estimate_tokens(body.decode("utf-8", "replace"))  # the whole request
                state.reservation = await self._limiter.acquire(state.endpoint, tokens)
            deadlines.start()
            url = chat_url(provider.host, state.endpoint, settings.url_style)
            return await open_stream(self._pool(), provider, url, body, deadlines, self._backoff)

        return read_batches(opener, deadlines)

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
            filler.finish("failed", error=one_line(str(err)), retries=state.retries,
                          warnings=state.warnings, kind=err.kind)
        except Exception as exc:  # a bug must not leave a live-looking result behind
            log.exception("unexpected error while streaming from %s", state.endpoint)
            filler.finish("failed", error=one_line(f"unexpected error: {type(exc).__name__}: "
                                                   f"{exc}"), retries=state.retries,
                          kind="unexpected")
        else:
            end = filler.end
            status = end.status if end is not None else "truncated"
            truncated = status == "truncated"
            filler.finish(status, error=state.truncation if truncated else None,
                          retries=state.retries, warnings=state.warnings,
                          kind=_truncation_kind(state.truncation) if truncated else None)
        return result

    async def list_endpoints(self) -> list[EndpointInfo]:
        """The chat-capable endpoints (``task == "llm/v1/chat"``) with their ready state."""
        provider = self._require_provider()
        s = self.settings
        url = list_url(provider.host, s.url_style)
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
            raise http_error(resp.status_code, err, endpoint="(endpoint list)",
                             host=provider.host, source=provider.source, retries=0)
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
            if not isinstance(ep, dict) or ep.get("task") != "llm/v1/chat":
                continue
            state = ep.get("state") or {}
            found.append(EndpointInfo(str(ep.get("name")), state.get("ready") == "READY",
                                      ep.get("task")))
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


def _import_transport() -> None:
    import importlib

    for name in ("anyio._backends._asyncio", "httpcore._async.http11", "h11"):
        importlib.import_module(name)


_TLS: ssl.SSLContext | None = None


def _tls_context(host: str) -> ssl.SSLContext:
    """A verifying TLS context made once per process (loading CA certificates costs ~0.1 s per
    client otherwise); plain-http hosts get an empty one, which would refuse any https peer."""
    global _TLS
    if host.startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if _TLS is None:
        _TLS = httpx.create_ssl_context()
    return _TLS


def _notify(callback: Callable[[StreamEvent], object], ev: StreamEvent) -> None:
    try:
        callback(ev)
    except Exception:  # a broken display must not break the stream
        log.exception("on_event callback failed")


def _truncation_kind(why: str | None) -> str:
    """``"dropped"`` when the connection broke mid-answer, else ``"truncated"``."""
    return "dropped" if why == DROPPED_MID_ANSWER else "truncated"


def _apply_unsent_usage(filler: ResultFiller, state: CallState) -> None:
    """A stream cut short: take the server's last running usage (events thin it out)."""
    if state.normalizer is not None and (usage := state.normalizer.unsent_usage()) is not None:
        filler.apply(usage)
