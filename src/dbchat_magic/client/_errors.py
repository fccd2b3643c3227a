"""HTTP responses and transport failures → typed errors with one-line, actionable, scrubbed text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from dbchat_magic.auth import scrub
from dbchat_magic.errors import (
    AuthError,
    BadRequest,
    ConnectError,
    DbChatError,
    EndpointNotFound,
    RateLimited,
    ServerError,
)

_MAX_MESSAGE = 300


def one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    """Whitespace collapsed, scrubbed, cut to ``limit`` characters."""
    text = scrub(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ErrorBody:
    """What an error response said: Databricks ``error_code``, message, request id, HTML page."""

    code: str | None
    message: str
    request_id: str | None
    html: bool


def _message_of(value: object, depth: int = 0) -> str:
    """The human message inside nested error shapes, unwrapping messages that are JSON text."""
    if isinstance(value, str):
        text = value.strip()
        if depth < 3 and text[:1] in "{[":
            try:
                return _message_of(orjson.loads(text), depth + 1) or text
            except orjson.JSONDecodeError:
                return text
        return text
    if isinstance(value, dict):
        for key in ("message", "error", "detail", "error_description", "msg"):
            if value.get(key):
                return _message_of(value[key], depth + 1)
        return ""
    if isinstance(value, list) and value:
        return _message_of(value[0], depth + 1)
    return ""


def parse_error_body(body: bytes, content_type: str) -> ErrorBody:
    """Read an error body in any of the shapes servers send (JSON, JSON-in-message, HTML, text)."""
    head = body[:200].lstrip().lower()
    if "html" in content_type or head.startswith((b"<html", b"<!doctype", b"<head", b"<body")):
        title = re.search(rb"<title>(.*?)</title>", body, re.I | re.S)
        return ErrorBody(None, title.group(1).decode("utf-8", "replace") if title else "",
                         None, True)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ErrorBody(None, body.decode("utf-8", "replace"), None, False)
    if not isinstance(data, dict):
        return ErrorBody(None, _message_of(data), None, False)
    request_id = None
    for detail in data.get("details") or ():
        if isinstance(detail, dict) and detail.get("request_id"):
            request_id = str(detail["request_id"])
    code = data.get("error_code")
    message = _message_of(data)
    external = data.get("external_model_message")  # Databricks: the served model's own error
    if external:
        inner = _message_of(external) or one_line(str(external), 400)
        code = code or (external.get("error_code") if isinstance(external, dict) else None)
        message = f"{inner} ({message})" if message and inner != message else inner
    return ErrorBody(str(code) if code else None, message, request_id, False)


_REASON = re.compile(r"(?:^|[\s.:])Error: ")


def reason_first(message: str) -> str:
    """A nested error message with its innermost reason first: MLflow writes "Failed to predict
    data '…'. Error: Failed to enforce schema … Error: Model is missing inputs ['input']. …", the
    reason past the part a one-line message keeps."""
    parts = _REASON.split(message)
    if len(parts) < 2 or not parts[-1].strip():
        return message
    reason = parts[-1].strip()
    rest = message[: len(message) - len(parts[-1])].rstrip()
    rest = rest[: -len("Error:")].rstrip(" .:") if rest.endswith("Error:") else rest
    return f"{reason} (while: {rest})" if rest else reason


_INVALID_TOKEN = re.compile(r"invalid (access )?token|token (is )?(invalid|expired|revoked)|"
                            r"expired token|UNAUTHENTICATED", re.I)
"""A 403 that means the token itself was refused, not a missing permission (Databricks answers
an invalid personal access token with ``403 Invalid access token.``)."""
NEW_TOKEN_STEP = ("make a new one (Settings → Developer → Access tokens, or `databricks auth "
                  "login`) and set it where this one came from")


def http_error(status: int, err: ErrorBody, *, endpoint: str, host: str, source: str,
               retries: int, retry_after: float | None = None,
               route: str | None = None) -> DbChatError:
    """The typed error for an HTTP error status. ``route``: the URL asked on an OpenAI-style
    server (not Databricks), which a 404 names instead of the endpoint."""
    said = one_line(reason_first(err.message), 200).rstrip(".")
    after = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    kw: dict = {"status_code": status, "request_id": err.request_id}
    if err.html:
        page = f" ({one_line(err.message, 60)})" if err.message else ""
        return ServerError(f"the gateway in front of endpoint '{endpoint}' returned an HTML error "
                           f"page, HTTP {status}{page}{after}; try again in a minute", **kw)
    if status == 400:
        return BadRequest(f"endpoint '{endpoint}' rejected the request (HTTP 400): "
                          f"{said or 'bad request'}", **kw)
    if status == 401 or (status == 403 and _INVALID_TOKEN.search(err.message or "")):
        return AuthError(f"the token from {source} was rejected (HTTP {status}: invalid, expired "
                         f"or revoked); {NEW_TOKEN_STEP}", **kw)
    if status == 403:
        return AuthError(f"permission denied (HTTP 403) for endpoint '{endpoint}' with the "
                         f"credentials from {source}: {said or 'no permission'}; you need "
                         "CAN QUERY on the endpoint", **kw)
    if status == 404 and route is not None:
        return _route_not_found(route, endpoint, said, **kw)
    if status == 404:
        return EndpointNotFound(f"endpoint '{endpoint}' was not found on {host} (HTTP 404): run "
                                "`%dbchat endpoints` to list the available endpoints", **kw)
    if status == 429:
        wait = f"; the server asked to wait {retry_after:g} s" if retry_after else ""
        return RateLimited(f"rate limit exceeded for endpoint '{endpoint}' (HTTP 429{after}"
                           f"{wait}): {said or 'too many requests'}; wait a minute or lower the "
                           "request rate", retry_after=retry_after, **kw)
    if status >= 500:
        return ServerError(f"endpoint '{endpoint}' failed with HTTP {status}{after}: "
                           f"{said or 'server error'}", **kw)
    return DbChatError(f"endpoint '{endpoint}' answered HTTP {status}: {said or 'error'}", **kw)


def _route_not_found(route: str, endpoint: str, said: str, **kw: Any) -> DbChatError:
    """A 404 from an OpenAI-style server: a model it does not serve (vLLM says so), else a
    route it does not have (the base URL is wrong)."""
    if "model" in said.lower() and endpoint != "(endpoint list)":
        return EndpointNotFound(f"model '{endpoint}' was not found at {route} (HTTP 404): {said}; "
                                "`%dbchat endpoints` lists the server's models", **kw)
    what = "model list" if endpoint == "(endpoint list)" else "chat route"
    return EndpointNotFound(f"no {what} at {route} (HTTP 404): is the base URL right "
                            "(…/v1)? Connect with the server's OpenAI base, e.g. "
                            "`%dbchat connect http://host:8000/v1`", **kw)


def cause_text(exc: BaseException) -> str:
    """Lower-cased names and messages along the cause chain (httpx wraps the OSError that says
    why, e.g. ConnectionRefusedError)."""
    chain: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 6:
        chain.append(f"{type(seen).__name__} {seen}")
        seen = seen.__cause__ or seen.__context__
    return " ".join(chain).lower()


def connect_error(exc: BaseException, host: str, retries: int) -> ConnectError:
    """A refused/unresolvable/TLS connection, naming the host and what to check."""
    text = cause_text(exc)
    if "refused" in text:  # ConnectionRefusedError
        why = "connection refused"
    elif "name or service" in text or "nodename" in text or "getaddrinfo" in text:
        why = "the host name does not resolve"
    elif "ssl" in text or "certificate" in text:
        why = "TLS/certificate error"
    else:
        why = one_line(str(exc), 80) or type(exc).__name__
    after = f" (after {retries} retries)" if retries else ""
    return ConnectError(f"cannot connect to {host}: {why}{after}; check the workspace host "
                        "(DATABRICKS_HOST or the host setting)")
