"""Agent answers on the wire: MLflow ChatAgent ``{"delta": …}`` chunks and Responses API events
(ResponsesAgent endpoints, the ``/serving-endpoints/responses`` and ``/open-responses`` routes),
streamed or whole, with a tool-call step for endpoints with ``tools``; and Chat Completions
``tool_calls`` deltas for the ``tool_call_only`` fault. Shapes as MLflow 3.17's AgentServer sends
them (tests/fixtures/wire/mlflow-agentserver-*.sse)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dbchat_magic.simulator._endpoints import Endpoint
from dbchat_magic.simulator._faults import Fault

TOOL = "lookup_order"
TOOL_ARGS = '{"order_id": 7}'
TOOL_OUTPUT = '{"order_id": 7, "status": "shipped"}'
_CALL_ID = "call_lookup_7"


def _data(payload: Any, eol: str = "\n\n") -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {text}{eol}".encode()


def _cut(faults: dict[str, Fault]) -> dict[str, int]:
    return {name: int(faults[name].params.get("after", default))
            for name, default in (("disconnect", 5), ("error_midstream", 3), ("no_done", 10**12))
            if name in faults}


def agent_events(tokens: list[tuple[str, str]], endpoint: Endpoint, api: str,
                 faults: dict[str, Fault], usage: tuple[int, int]) -> Iterator[tuple[bytes, int]]:
    """The streamed answer in ``api``'s shape as (event bytes, token events in it)."""
    steps = endpoint.tools or "tool_call_only" in faults
    only_call = "tool_call_only" in faults
    cut = _cut(faults)
    if steps:
        yield from ((_data(e), 0) for e in _step_events(api, only_call))
    text_tokens = [] if only_call else tokens
    for i, (kind, text) in enumerate(text_tokens):
        if cut.get("error_midstream") == i:
            yield _data(_error(api)), 0
            return
        if min(cut.get("disconnect", 10**12), cut.get("no_done", 10**12)) <= i:
            return
        yield _data(_text_event(api, kind, text)), 1
    if "error_midstream" in cut:
        yield _data(_error(api)), 0
        return
    if "disconnect" in cut or "no_done" in cut:
        return
    yield _data(_final_event(api, tokens if not only_call else [], usage)), 0
    yield _data("[DONE]", "" if "done_no_blank" in faults else "\n\n"), 0


def _step_events(api: str, only_call: bool) -> Iterator[dict[str, Any]]:
    if api == "responses":
        item = {"type": "function_call", "id": "fc_1", "call_id": _CALL_ID, "name": TOOL,
                "arguments": TOOL_ARGS}
        yield {"type": "response.output_item.done", "item": item}
        if not only_call:
            out = {"type": "function_call_output", "call_id": _CALL_ID, "output": TOOL_OUTPUT}
            yield {"type": "response.output_item.done", "item": out}
        return
    call: dict[str, Any] = {"id": _CALL_ID, "type": "function",
                            "function": {"name": TOOL, "arguments": TOOL_ARGS}}
    yield {"delta": {"role": "assistant", "content": "", "id": "msg_call", "tool_calls": [call]}}
    if not only_call:
        yield {"delta": {"role": "tool", "content": TOOL_OUTPUT, "name": TOOL, "id": "msg_tool",
                         "tool_call_id": _CALL_ID}}


def _text_event(api: str, kind: str, text: str) -> dict[str, Any]:
    if api == "responses":
        if kind == "reasoning":
            return {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1",
                    "delta": text}
        return {"type": "response.output_text.delta", "item_id": "msg_final", "delta": text}
    return {"delta": {"role": "assistant", "content": text, "id": "msg_final"}}


def _final_event(api: str, tokens: list[tuple[str, str]], usage: tuple[int, int]) -> dict[str, Any]:
    prompt, completion = usage
    if api == "responses":
        return {"type": "response.completed", "response": {
            "object": "response", "status": "completed",
            "usage": {"input_tokens": prompt, "output_tokens": completion,
                      "total_tokens": prompt + completion}}}
    return {"delta": {"role": "assistant", "content": "", "id": "msg_final"},
            "finish_reason": "tool_calls" if not tokens else "stop",
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion}}


def _error(api: str) -> dict[str, Any]:
    message = "Model server error: the agent failed (simulated)."
    if api == "responses":
        return {"type": "error", "code": "server_error", "message": message}
    return {"error": message}


def agent_payload(text: str, reasoning: str, endpoint: Endpoint, api: str,
                  faults: dict[str, Fault], usage: tuple[int, int]) -> dict[str, Any]:
    """The whole (non-streamed) answer in ``api``'s shape."""
    only_call = "tool_call_only" in faults
    steps = list(_step_events(api, only_call)) if endpoint.tools or only_call else []
    prompt, completion = usage
    if api == "responses":
        output = [e["item"] for e in steps]
        if reasoning:
            output.insert(0, {"type": "reasoning", "id": "rs_1",
                              "summary": [{"type": "summary_text", "text": reasoning}]})
        if not only_call:
            output.append({"type": "message", "id": "msg_final", "role": "assistant",
                           "content": [{"type": "output_text", "text": text,
                                        "annotations": []}]})
        return {"object": "response", "status": "completed", "model": endpoint.model,
                "output": output, "usage": {"input_tokens": prompt, "output_tokens": completion,
                                            "total_tokens": prompt + completion}}
    messages = [e["delta"] for e in steps]
    if not only_call:
        messages.append({"role": "assistant", "content": text, "id": "msg_final"})
    return {"messages": messages, "usage": {"prompt_tokens": prompt,
                                            "completion_tokens": completion,
                                            "total_tokens": prompt + completion}}


def chat_tool_call_events(head: bytes, event: Any) -> Iterator[tuple[bytes, int]]:
    """Chat Completions asking for ``lookup_order(order_id=7)``: the role event ``head``, the
    call in pieces (``event(delta_json, finish, usage)`` builds each), ``tool_calls`` finish."""
    yield head, 0
    first = {"tool_calls": [{"index": 0, "id": _CALL_ID, "type": "function",
                             "function": {"name": TOOL, "arguments": ""}}], "content": None}
    yield event(json.dumps(first), None, ""), 0
    for piece in ('{"order_id"', ': 7}'):
        more = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        yield event(json.dumps(more), None, ""), 1
    yield event("{}", "tool_calls", ""), 0
    yield b"data: [DONE]\n\n", 0


def input_messages(items: Any) -> list[dict[str, Any]]:
    """Responses ``input`` items as chat messages (a string input is one user message)."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    return [i for i in items or () if isinstance(i, dict) and "role" in i]


async def nothing() -> None:
    """The "empty_body" fault: the response ends with no bytes."""


def reframed(events: Iterator[tuple[bytes, int]],
              ndjson: bool) -> Iterator[tuple[bytes, int]]:
    """The "ndjson" fault (each event's JSON as one line, no [DONE]) and "done_no_blank" (the
    last ``data: [DONE]`` without its blank line)."""
    for data, tokens in events:
        if data.startswith(b"data: [DONE]"):
            if not ndjson:
                yield b"data: [DONE]", tokens
            continue
        if ndjson and data.startswith(b"data: "):
            data = data[6:].rstrip(b"\r\n") + b"\n"
        yield data, tokens
