"""Which chat requests are refused, and with what Databricks error."""

from __future__ import annotations

from typing import Any

from dbchat_magic.simulator._endpoints import Endpoint
from dbchat_magic.simulator._faults import (
    RESPONSE_FAULTS,
    ErrorResponse,
    Fault,
    databricks_error,
    fault_response,
    not_found,
    schema_error_message,
)
from dbchat_magic.simulator._http import MAX_BODY_BYTES, Request

_ROLES = ("system", "user", "assistant", "tool")


def refuse_chat(
    req: Request, body: Any, name: str | None, endpoints: dict[str, Endpoint], faults: list[Fault],
    api: str | None = None,
) -> ErrorResponse | None:
    """The error a chat request gets (an injected response fault first), or None to answer it."""
    if req.method != "POST":
        return databricks_error(405, "BAD_REQUEST", f"Method {req.method} not allowed")
    for fault in faults:
        if fault.name in RESPONSE_FAULTS:
            return fault_response(fault, name)
    if len(req.body) > MAX_BODY_BYTES:
        return databricks_error(400, "BAD_REQUEST", "Request size exceeds the 4 MB limit.")
    if not isinstance(body, dict):
        return databricks_error(400, "BAD_REQUEST", "Request body must be a JSON object.")
    if not isinstance(name, str) or not name:
        return databricks_error(400, "BAD_REQUEST", "Missing required field 'model'.")
    endpoint = endpoints.get(name)
    if endpoint is None:
        return not_found(name)
    if not endpoint.ready:
        return databricks_error(
            400,
            "BAD_REQUEST",
            f"Endpoint '{name}' is not ready (state NOT_READY). Try again when it is READY.",
        )
    if not endpoint.is_chat:
        return databricks_error(
            400,
            "BAD_REQUEST",
            f"Endpoint '{name}' serves task '{endpoint.task}', not chat completions.",
        )
    if (api or endpoint.api) == "responses":
        items = body.get("input")
        if not isinstance(items, list) or not items:  # as MLflow's scoring server answers
            return databricks_error(400, "INVALID_PARAMETER_VALUE", schema_error_message())
        return None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return databricks_error(400, "BAD_REQUEST", "Field 'messages' must be a non-empty list.")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            return databricks_error(
                400, "BAD_REQUEST", f"messages[{i}] needs a role of system, user or assistant."
            )
    return None
