"""Request handling: auth, routing, chat answers (streamed or not), faults, disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from typing import Any

from dbchat_magic.simulator._agents import (
    agent_events,
    agent_payload,
    chat_tool_call_events,
    input_messages,
    nothing,
    reframed,
)
from dbchat_magic.simulator._endpoints import Endpoint
from dbchat_magic.simulator._faults import (
    ErrorResponse,
    Fault,
    databricks_error,
    not_found,
)
from dbchat_magic.simulator._hostile import SizedBody, echo_headers, fill_mark, sized_body
from dbchat_magic.simulator._http import BadRequest, Connection, Request
from dbchat_magic.simulator._responders import (
    SimRequest,
    as_reply,
    content_text,
    count_tokens,
    default_reasoning,
)
from dbchat_magic.simulator._state import ServerState
from dbchat_magic.simulator._stats import Disconnect, LogEntry
from dbchat_magic.simulator._stream import (
    Answer,
    ChunkBuilder,
    Pacing,
    completion_payload,
    plan_answer,
    send_events,
    sent_text,
    sse_events,
)
from dbchat_magic.simulator._validate import refuse_chat

_log = logging.getLogger(__name__)
_CHAT_PREFIX = "/serving-endpoints/"
_LIST_PATH = "/api/2.0/serving-endpoints"


class App:
    """Serves one simulator's connections on its event loop, as its `ServerState` says."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._connections = 0

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve requests on one connection until it closes (HTTP/1.1 keep-alive)."""
        self._connections += 1
        self.state.stats.connections_opened += 1
        conn = Connection(reader, writer, self._connections)
        try:
            while True:
                if not await conn.next_request_started(self.state.idle_timeout):
                    self.state.stats.idle_closed += 1
                    break
                try:
                    request = await conn.read_request()
                except (BadRequest, ValueError) as exc:
                    err = databricks_error(400, "BAD_REQUEST", f"Malformed HTTP request: {exc}")
                    await self._send_error(conn, err, keep_alive=False)
                    break
                if request is None or not await self.dispatch(conn, request):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            conn.close()

    async def dispatch(self, conn: Connection, req: Request) -> bool:
        """Answer one request; returns whether the connection stays open."""
        keep = req.keep_alive
        path = req.path.rstrip("/") or "/"
        if path == "/_sim/stats" and req.method == "GET":
            await conn.send_json(200, self.state.stats.as_json(), keep_alive=keep)
            return keep
        if path == "/oidc/v1/token" and req.method == "POST":
            return await self._oauth_token(conn, req)
        if not (path.startswith(_CHAT_PREFIX) or path.startswith(_LIST_PATH)):
            err = databricks_error(
                404, "ENDPOINT_NOT_FOUND", f"No API found for '{req.method} {path}'"
            )
            return await self._send_error(conn, err, keep_alive=keep)
        denied = self._check_auth(req)
        lookup = path.startswith(_LIST_PATH + "/") and req.method == "GET"
        if lookup:  # one endpoint's details: counted apart from the questions
            self.state.stats.record_lookup()
        if denied is not None:
            if not lookup:
                self._log_plain(req, None, denied.status, conn)
            return await self._send_error(conn, denied, keep_alive=keep)
        if path.startswith(_LIST_PATH):
            return await self._list(conn, req, path)
        return await self._chat(conn, req, path)

    def _check_auth(self, req: Request) -> ErrorResponse | None:
        token = self.state.token
        if token is None:
            return None
        auth = req.headers.get("authorization", "")
        if not auth:
            return databricks_error(
                401,
                "UNAUTHENTICATED",
                "Credential was not sent or was of an unsupported type for this API.",
            )
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or value.strip() != token:
            return databricks_error(403, "PERMISSION_DENIED", "Invalid access token.")
        return None

    async def _send_error(self, conn: Connection, err: ErrorResponse, *, keep_alive: bool) -> bool:
        if err.fill:
            await conn.send_sized(err.status, err.body, err.fill, err.tail, err.content_type,
                                  keep_alive=keep_alive, extra=err.headers)
            return keep_alive
        await conn.send_fixed(
            err.status, err.body, err.content_type, keep_alive=keep_alive, extra=err.headers
        )
        return keep_alive

    def _log_plain(self, req: Request, endpoint: str | None, status: int, conn: Connection) -> None:
        entry = LogEntry(
            self.state.stats.requests + 1,
            req.method,
            req.path,
            endpoint,
            status=status,
            started=time.monotonic(),
            connection=conn.number,
        )
        self.state.stats.record_request(entry, _try_json(req.body), req.headers)

    async def _list(self, conn: Connection, req: Request, path: str) -> bool:
        keep = req.keep_alive
        if path == _LIST_PATH or req.method != "GET":
            self._log_plain(req, None, 200, conn)
        if req.method != "GET":
            err = databricks_error(405, "BAD_REQUEST", f"Method {req.method} not allowed on {path}")
            return await self._send_error(conn, err, keep_alive=keep)
        name = path[len(_LIST_PATH) + 1 :]
        endpoints = self.state.endpoints
        if not name:
            payload = {"endpoints": [e.as_json() for e in endpoints.values()]}
            await conn.send_json(200, payload, keep_alive=keep)
        elif name in endpoints:
            await conn.send_json(200, endpoints[name].as_json(), keep_alive=keep)
        else:
            return await self._send_error(conn, not_found(name), keep_alive=keep)
        return keep

    async def _oauth_token(self, conn: Connection, req: Request) -> bool:
        """OAuth M2M client-credentials token (``{host}/oidc/v1/token``)."""
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            import base64

            with contextlib.suppress(ValueError):
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        self._log_plain(req, None, 200, conn)
        if (client_id, secret) != self.state.oauth_client or self.state.token is None:
            payload: dict[str, Any] = {
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }
            await conn.send_json(401, payload, keep_alive=req.keep_alive)
            return req.keep_alive
        payload = {
            "access_token": self.state.token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": form.get("scope", "all-apis"),
        }
        await conn.send_json(200, payload, keep_alive=req.keep_alive)
        return req.keep_alive

    async def _chat(self, conn: Connection, req: Request, path: str) -> bool:
        keep = req.keep_alive
        body = _try_json(req.body)
        rest = path[len(_CHAT_PREFIX) :]
        route_api: str | None = None
        if rest in ("chat/completions", "responses", "open-responses"):
            name = body.get("model") if isinstance(body, dict) else None
            route_api = "chat" if rest == "chat/completions" else "responses"
        elif rest.endswith("/invocations") and rest.count("/") == 1:
            name = rest.split("/", 1)[0]
        else:
            err = databricks_error(
                404, "ENDPOINT_NOT_FOUND", f"No API found for '{req.method} {path}'"
            )
            return await self._send_error(conn, err, keep_alive=keep)
        entry = LogEntry(
            self.state.stats.requests + 1,
            req.method,
            path,
            name if isinstance(name, str) else None,
            started=time.monotonic(),
            connection=conn.number,
        )
        self.state.stats.record_request(entry, body if isinstance(body, dict) else None,
                                        req.headers)
        faults = self.state.faults.take(entry.endpoint)
        entry.faults = [f.name for f in faults]
        replay = next((f for f in faults if f.name == "replay"), None)
        if replay is not None:  # a kept body, byte for byte
            return await self._replay(conn, replay, entry, keep)
        if entry.faults == ["drop"]:
            entry.status = 0  # no response at all
            conn.abort()
            return False
        error = refuse_chat(req, body, entry.endpoint, self.state.endpoints, faults, route_api)
        if error is not None:
            entry.status = error.status
            return await self._send_error(conn, error, keep_alive=keep)
        assert isinstance(body, dict) and entry.endpoint is not None
        endpoint = self.state.endpoints[entry.endpoint]
        api = route_api or endpoint.api
        by_name = {f.name: f for f in faults}
        try:
            answer, prompt_tokens = self._answer(req, body, endpoint, by_name)
        except Exception as exc:
            entry.status = 500
            err = databricks_error(500, "INTERNAL_ERROR", f"Simulator responder failed: {exc!r}")
            return await self._send_error(conn, err, keep_alive=keep)
        entry.status, entry.stream = 200, bool(body.get("stream"))
        entry.text, entry.reasoning = sent_text(answer, by_name), answer.reasoning
        entry.finish_reason = answer.finish_reason
        pacing = self._pacing(by_name)
        echo = echo_headers(req.headers, by_name.get("header_echo"))
        if entry.stream and "empty_body" in by_name:
            conn.start_chunked(200, "text/event-stream; charset=utf-8", keep_alive=keep)
            work = nothing()
        elif entry.stream and api != "chat" and "json_body" not in by_name:
            conn.start_chunked(200, "text/event-stream", keep_alive=keep, extra=echo)
            usage = (prompt_tokens, answer.completion_tokens)
            work = send_events(conn, agent_events(answer.tokens, endpoint, api, by_name, usage),
                               pacing, entry)
        elif entry.stream and "json_body" not in by_name:
            chunk_id = f"chatcmpl_{uuid.uuid4()}"
            builder = ChunkBuilder(
                endpoint,
                prompt_tokens,
                blocks="reasoning" in by_name or endpoint.style == "reasoning",
                crlf="crlf" in by_name,
                chunk_id=chunk_id,
            )
            http10 = req.version == "HTTP/1.0"
            ndjson = "ndjson" in by_name
            ctype = "application/x-ndjson" if ndjson else "text/event-stream; charset=utf-8"
            conn.start_chunked(200, ctype, keep_alive=keep, http10=http10, extra=echo)
            keep = keep and not http10
            events = (chat_tool_call_events(builder.role(), builder.event)
                      if "tool_call_only" in by_name else sse_events(answer, builder, by_name))
            if ndjson or "done_no_blank" in by_name:
                events = reframed(events, ndjson)
            work = send_events(conn, events, pacing, entry)
        elif "disconnect" in by_name:
            conn.abort()
            return False
        else:
            jb = by_name.get("json_body")
            marked = dataclasses.replace(answer, text=answer.text + fill_mark(jb))
            payload = (completion_payload(marked, endpoint, prompt_tokens) if api == "chat" else
                       agent_payload(marked.text, answer.reasoning, endpoint, api, by_name,
                                     (prompt_tokens, answer.completion_tokens)))
            body = sized_body(payload, jb)
            work = self._send_whole(conn, body, answer, pacing, keep, echo)
        cut = "disconnect" in by_name or "broken_framing" in by_name
        return await self._watch(conn, work, entry, keep, cut=cut)

    async def _replay(self, conn: Connection, fault: Fault, entry: LogEntry, keep: bool) -> bool:
        raw = fault.params.get("body", b"")
        body = raw.encode() if isinstance(raw, str) else bytes(raw)
        entry.status = int(fault.params.get("status", 200))
        ctype = str(fault.params.get("content_type", "text/event-stream"))
        await conn.send_fixed(entry.status, body, ctype, keep_alive=keep)
        return keep

    def _answer(
        self, req: Request, body: dict[str, Any], endpoint: Endpoint, faults: dict[str, Fault]
    ) -> tuple[Answer, int]:
        n = (
            body.get("reply_tokens")
            or req.headers.get("x-sim-reply-tokens")
            or self.state.reply_tokens
        )
        messages = body.get("messages") or input_messages(body.get("input"))
        request = SimRequest(endpoint.name, messages, body, dict(req.headers), int(n))
        reply = as_reply(self.state.responder(request))
        max_tokens = body.get("max_tokens") or body.get("max_output_tokens")
        max_tokens = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
        answer = plan_answer(reply, endpoint, faults, max_tokens, default_reasoning(request))
        prompt = sum(count_tokens(content_text(m.get("content"))) + 4 for m in messages)
        return answer, prompt

    def _pacing(self, faults: dict[str, Fault]) -> Pacing:
        base = self.state.pacing
        over: dict[str, Any] = {}
        for fault in faults.values():
            over.update({k: v for k, v in fault.params.items() if k in _PACING_FIELDS})
        if "slow_first_token" in faults:
            over["first_token_delay"] = float(faults["slow_first_token"].params.get("delay", 2.0))
        return dataclasses.replace(base, **over) if over else base

    async def _send_whole(
        self,
        conn: Connection,
        body: SizedBody,
        answer: Answer,
        pacing: Pacing,
        keep: bool,
        echo: tuple[tuple[str, str], ...],
    ) -> None:
        duration = pacing.first_token_delay
        if pacing.tokens_per_second:
            duration += len(answer.tokens) / pacing.tokens_per_second
        if duration > 0:
            await asyncio.sleep(duration)
        await conn.send_sized(
            200, body.head, body.fill, body.tail, body.content_type, keep_alive=keep, extra=echo
        )

    async def _watch(
        self, conn: Connection, work: Any, entry: LogEntry, keep: bool, *, cut: bool
    ) -> bool:
        """Run the response while watching for the client closing; record a disconnect at once."""
        sending = asyncio.ensure_future(work)
        watching = asyncio.ensure_future(conn.fill())
        try:
            await asyncio.wait({sending, watching}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            sending.cancel()
            watching.cancel()
            raise
        went_away = watching.done() and (
            watching.cancelled() or watching.exception() is not None or not watching.result()
        )
        if not sending.done() and not went_away:
            # The client sent bytes mid-response (kept in the buffer): finish the response first.
            await asyncio.wait({sending})
        if not watching.done():
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
        error = sending.exception() if sending.done() and not sending.cancelled() else None
        if error is not None and not isinstance(error, ConnectionError):
            _log.error("simulator response failed", exc_info=error)
            conn.abort()
            return False
        if went_away or error is not None:
            now = time.monotonic()
            sending.cancel()
            self.state.stats.disconnects.append(
                Disconnect(now, entry.tokens_sent, entry.endpoint, entry.number)
            )
            conn.abort()
            return False
        if cut:  # the "disconnect" fault: drop the connection without ending the response
            conn.abort()
            return False
        if entry.stream and not conn.end_chunked():
            keep = False
        await conn.drain()
        return keep


_PACING_FIELDS = frozenset({"tokens_per_second", "first_token_delay", "chunking", "seed"})


def _try_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
