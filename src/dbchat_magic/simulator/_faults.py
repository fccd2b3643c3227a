"""Fault injection: the pending-fault book and the error responses Databricks sends."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

# Faults that replace the whole response with an HTTP error.
# "drop" closes the connection after reading the request, before any byte of an answer (what a
# client sees when a pooled connection went stale or a load balancer resets it).
# "huge_error" is an error whose body is ``size`` bytes, generated as it is sent.
RESPONSE_FAULTS = frozenset(
    {"429", "500", "503", "401", "403", "404", "400", "html502", "drop", "huge_error",
     "external_model_error", "schema_error"}
)
# Faults that change how a successful stream looks; several can apply to one request.
STREAM_FAULTS = frozenset(
    {
        "disconnect",
        "malformed_chunk",
        "error_midstream",
        "no_done",
        "slow_first_token",
        "keepalive",
        "crlf",
        "reasoning",
        "special_tokens",
        "u2028",
        "huge_line",  # after `after` tokens, one data line (or event) of `size` bytes
        "json_body",  # the whole chat.completion body even when asked to stream
        "broken_framing",  # after `after` tokens, broken chunked framing, then the connection ends
        "header_echo",  # the request's Authorization value echoed in a response header
        "empty_body",  # HTTP 200 text/event-stream without a single byte
        "done_no_blank",  # the stream ends "data: [DONE]" with no blank line after it
        "ndjson",  # the stream as application/x-ndjson lines instead of SSE
        "tool_call_only",  # the answer is only a tool call (Chat Completions tool_calls deltas)
        "replay",  # `body` (bytes or text) sent as it is, with `status` and `content_type`
    }
)
FAULT_NAMES = RESPONSE_FAULTS | STREAM_FAULTS

_PARAMS: dict[str, frozenset[str]] = {
    "429": frozenset({"retry_after", "message"}),
    "500": frozenset({"message"}),
    "503": frozenset({"message", "retry_after"}),
    "401": frozenset({"message"}),
    "403": frozenset({"message"}),
    "404": frozenset({"message"}),
    "400": frozenset({"message"}),
    "html502": frozenset(),
    "drop": frozenset(),
    "disconnect": frozenset({"after"}),
    "malformed_chunk": frozenset({"after"}),
    "error_midstream": frozenset({"after", "shape", "message"}),
    "no_done": frozenset({"after"}),
    "slow_first_token": frozenset({"delay"}),
    "keepalive": frozenset({"every", "comment"}),
    "crlf": frozenset(),
    "reasoning": frozenset({"reasoning"}),
    "special_tokens": frozenset(),
    "u2028": frozenset(),
    "huge_error": frozenset({"size", "status"}),
    "huge_line": frozenset({"after", "size", "line_bytes", "end"}),
    "json_body": frozenset({"content_type", "size"}),
    "broken_framing": frozenset({"after", "kind"}),
    "header_echo": frozenset({"header", "bare"}),
    "external_model_error": frozenset({"message"}),
    "schema_error": frozenset(),
    "empty_body": frozenset(),
    "done_no_blank": frozenset(),
    "ndjson": frozenset(),
    "tool_call_only": frozenset(),
    "replay": frozenset({"body", "status", "content_type"}),
}
# Any fault may also override pacing and chunking for the request it hits.
_PACING_PARAMS = frozenset({"tokens_per_second", "first_token_delay", "chunking", "seed"})


@dataclass
class Fault:
    """An injected fault: hits the next ``times`` matching requests (None = until cleared)."""

    name: str
    times: int | None = 1
    endpoint: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in FAULT_NAMES:
            known = ", ".join(sorted(FAULT_NAMES))
            raise ValueError(f"unknown fault {self.name!r}; known faults: {known}")
        unknown = set(self.params) - _PARAMS[self.name] - _PACING_PARAMS
        if unknown:
            raise ValueError(f"fault {self.name!r} takes no parameter(s) {sorted(unknown)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None (every request until cleared)")

    def matches(self, endpoint: str | None) -> bool:
        """True when this fault applies to a request for ``endpoint``."""
        return self.endpoint is None or self.endpoint == endpoint


class FaultBook:
    """Pending faults; `take` hands out the faults for one request (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue a fault."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """A copy of the pending faults."""
        with self._lock:
            return list(self._faults)

    def take(self, endpoint: str | None) -> list[Fault]:
        """Consume the faults for one request.

        A pending response fault always goes first and alone (so an injected 429 and a disconnect
        hit two successive requests: the 429, then the disconnect); otherwise the first pending
        stream fault of each name applies.
        """
        with self._lock:
            matching = [f for f in self._faults if f.matches(endpoint)]
            errors = [f for f in matching if f.name in RESPONSE_FAULTS]
            if errors:
                chosen = [errors[0]]
            else:
                chosen, seen = [], set()
                for f in matching:
                    if f.name in STREAM_FAULTS and f.name not in seen:
                        chosen.append(f)
                        seen.add(f.name)
            for f in chosen:
                if f.times is not None:
                    f.times -= 1
                    if f.times == 0:
                        self._faults.remove(f)
            return chosen


@dataclass(frozen=True)
class ErrorResponse:
    """An HTTP error response: status, extra headers, body and content type. With ``fill`` the
    body on the wire is ``body``, then ``fill`` filler bytes, then ``tail`` (never held whole)."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    fill: int = 0
    tail: bytes = b""


def _request_id() -> str:
    return str(uuid.uuid4())


def databricks_error(
    status: int, error_code: str, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> ErrorResponse:
    """An error in Databricks' shape: ``error_code``, ``message`` and a request id detail."""
    payload = {
        "error_code": error_code,
        "message": message,
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.RequestInfo",
                "request_id": _request_id(),
                "serving_data": "",
            }
        ],
    }
    return ErrorResponse(status, json.dumps(payload).encode(), headers=headers)


_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)

_BAD_REQUEST_JSON = json.dumps(
    {
        "error": {
            "message": "Input validation error: `max_tokens` must be less than or equal to 8192",
            "type": "invalid_request_error",
        }
    }
)


def fault_response(fault: Fault, endpoint: str | None) -> ErrorResponse:
    """The error response a response fault produces."""
    p, name = fault.params, endpoint or "?"
    msg = p.get("message")
    if fault.name == "429":
        extra = () if p.get("retry_after") is None else (("Retry-After", str(p["retry_after"])),)
        return databricks_error(
            429,
            "REQUEST_LIMIT_EXCEEDED",
            msg or f"Exceeded workspace rate limit for endpoint '{name}'. Please retry later.",
            extra,
        )
    if fault.name == "500":
        return databricks_error(500, "INTERNAL_ERROR", msg or "The server encountered an error.")
    if fault.name == "503":
        extra = () if p.get("retry_after") is None else (("Retry-After", str(p["retry_after"])),)
        return databricks_error(
            503,
            "TEMPORARILY_UNAVAILABLE",
            msg or f"The service at endpoint '{name}' is temporarily unavailable.",
            extra,
        )
    if fault.name == "401":
        return databricks_error(
            401,
            "UNAUTHENTICATED",
            msg or "Credential was not sent or was of an unsupported type for this API.",
        )
    if fault.name == "403":
        return databricks_error(
            403,
            "PERMISSION_DENIED",
            msg or f"User does not have permission to query endpoint '{name}'.",
        )
    if fault.name == "404":
        return not_found(name, msg)
    if fault.name == "400":
        return databricks_error(400, "BAD_REQUEST", msg or _BAD_REQUEST_JSON)
    if fault.name == "html502":
        return ErrorResponse(502, _HTML_502, "text/html")
    if fault.name == "external_model_error":  # Databricks' shape (dbdemos issue #97)
        inner = {"error_code": "INVALID_PARAMETER_VALUE",
                 "message": msg or "max_tokens must be at most 4096 for this model"}
        body = {"error": "Received error from databricks-model-serving",
                "external_model_message": inner}
        return ErrorResponse(400, json.dumps(body).encode(), "application/json")
    if fault.name == "schema_error":
        return databricks_error(400, "INVALID_PARAMETER_VALUE", schema_error_message())
    if fault.name == "huge_error":
        head = b'{"error_code":"INTERNAL_ERROR","message":"'
        return ErrorResponse(int(p.get("status", 500)), head, fill=int(p.get("size", 200 << 20)),
                             tail=b'"}')
    raise ValueError(f"{fault.name!r} is not a response fault")


def not_found(endpoint: str, message: str | None = None) -> ErrorResponse:
    """404 ``RESOURCE_DOES_NOT_EXIST`` for an endpoint name."""
    return databricks_error(
        404,
        "RESOURCE_DOES_NOT_EXIST",
        message or f"Endpoint with name '{endpoint}' does not exist.",
    )


def schema_error_message() -> str:
    """What MLflow's scoring server says to a ResponsesAgent sent ``messages``: the reason comes
    ~1000 characters in (the real one: tests/fixtures/wire/mlflow-responses-agent-messages-400)."""
    fields = ", ".join(f"'{n}': string (optional)" for n in (
        "background", "context", "custom_inputs", "metadata", "parallel_tool_calls", "reasoning",
        "store", "stream", "temperature", "text", "tool_choice", "tools", "top_p", "truncation",
        "user", "max_output_tokens", "conversation", "prompt"))
    return (f"Failed to predict data '{{'messages': [...]}}'. \nError: Failed to enforce schema of "
            f"data '{{'messages': [...]}}' with schema '[{fields}, 'input': Array(Any) "
            "(required)]'. Error: Model is missing inputs ['input']. Note that there were extra "
            "inputs: ['messages'].")
