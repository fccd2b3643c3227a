"""Responses API answers → typed events (the `Normalizer` of `RESPONSES`): ResponsesAgent
endpoints, Databricks' ``/serving-endpoints/responses`` and ``/open-responses`` routes, MLflow's
AgentServer.

Stream events (``{"type": …}``): ``response.output_text.delta`` is text,
``response.reasoning_summary_text.delta`` reasoning; ``response.output_item.done`` carries whole
items (``message``, ``reasoning``, ``function_call``, ``function_call_output``; a message or
reasoning item whose text already streamed as deltas is not repeated); ``response.completed`` /
``response.incomplete`` end the answer with usage; ``response.failed`` and ``error`` fail it. A
whole body is a ``response`` object with ``output[]``. Shapes: mlflow ``types/responses.py``;
docs/notes/databricks-2026-protocol.md §4.
"""

from __future__ import annotations

from typing import Any

from dbchat_magic.client._normalize import stream_error
from dbchat_magic.client._steps import AgentNormalizerBase, call_step, output_step, usage_event
from dbchat_magic.client._wire import ReportedError
from dbchat_magic.events import ReasoningDelta, StreamEvent, TextDelta

_TEXT_DELTA = "response.output_text.delta"
_ITEM_DONE = "response.output_item.done"
_ITEM_TYPES = frozenset({"message", "reasoning", "function_call", "function_call_output"})


class ResponsesNormalizer(AgentNormalizerBase):
    """Reads Responses events and bodies, keeping text, reasoning and tool steps apart."""

    def __init__(self) -> None:
        super().__init__()
        self._streamed_text = False  # text deltas since the last message item
        self._streamed_reasoning = False
        self._any_item = False
        self._names: dict[str, str] = {}

    def add(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        """Append the events of one event or body; `ReportedError` when it reports a failure."""
        kind = payload.get("type")
        if kind == _TEXT_DELTA:  # the usual event
            delta = payload.get("delta")
            if delta and delta.__class__ is str:
                self._streamed_text = self._read = True
                out.append(TextDelta(delta))
        elif kind == _ITEM_DONE:
            self._read = True
            self._item(payload.get("item"), out)
        elif isinstance(kind, str) and kind.startswith("response."):
            self._read = True
            self._event(kind, payload, out)
        elif kind in _ITEM_TYPES:  # an item sent bare (seen in Databricks' app fixtures)
            self._read = True
            self._item(payload, out)
        elif kind == "error" or payload.get("error") or payload.get("error_code"):
            raise ReportedError(_error_text(payload))
        elif payload.get("object") == "response" or isinstance(payload.get("output"), list):
            self._read = True
            self._response(payload, out)
        else:
            self._unknown(payload)

    def _event(self, kind: str, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        if kind == "response.reasoning_summary_text.delta":
            delta = payload.get("delta")
            if isinstance(delta, str) and delta:
                self._streamed_reasoning = True
                out.append(ReasoningDelta(delta))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            response = payload.get("response")
            if isinstance(response, dict):
                self._response(response, out)
            if kind == "response.failed":
                raise ReportedError(_error_text(response if isinstance(response, dict) else {}))
            self._done = True
            if kind == "response.incomplete":
                self.finish_reason = _incomplete_reason(response)
        elif kind == "response.created" and isinstance(payload.get("response"), dict):
            self._model(payload["response"])

    def _response(self, response: dict[str, Any], out: list[StreamEvent]) -> None:
        """A whole response object: its items when none arrived as events, usage, model."""
        self._model(response)
        output = response.get("output")
        if isinstance(output, list) and not self._any_item and not self._streamed_text:
            for item in output:
                self._item(item, out)
        if response.get("status") == "failed" or response.get("error"):
            raise ReportedError(_error_text(response))
        if response.get("status") in ("completed", "incomplete") or output is not None:
            self._done = True
        if self.finish_reason is None and response.get("status") == "completed":
            self.finish_reason = "stop"
        usage = response.get("usage")
        if isinstance(usage, dict):
            self._note_usage(usage_event(usage.get("input_tokens"), usage.get("output_tokens"),
                                         usage.get("total_tokens")), out)

    def _model(self, response: dict[str, Any]) -> None:
        model = response.get("model")
        if self.model is None and isinstance(model, str) and model:
            self.model = model

    def _item(self, item: Any, out: list[StreamEvent]) -> None:
        """One whole output item."""
        if not isinstance(item, dict):
            return
        self._any_item = True
        kind = item.get("type")
        if kind == "message":
            if not self._streamed_text:
                text = "".join(_part_texts(item.get("content")))
                if text:
                    out.append(TextDelta(text))
            self._streamed_text = False
        elif kind == "reasoning":
            if not self._streamed_reasoning:
                text = "".join(_part_texts(item.get("summary")))
                if text:
                    out.append(ReasoningDelta(text))
            self._streamed_reasoning = False
        elif kind == "function_call":
            step = call_step(item.get("name"), item.get("arguments"), item.get("call_id"))
            if step.call_id and len(self._names) < 256:
                self._names[step.call_id] = step.name
            out.append(step)
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            out.append(output_step(self._names.get(str(call_id), ""), item.get("output"), call_id))


def _part_texts(parts: Any) -> list[str]:
    """The texts of content parts (``output_text``) or summary parts (``summary_text``)."""
    if isinstance(parts, str):
        return [parts]
    if not isinstance(parts, list):
        return []
    return [p["text"] for p in parts
            if isinstance(p, dict) and isinstance(p.get("text"), str)
            and p.get("type") in (None, "output_text", "summary_text", "text")]


def _error_text(payload: dict[str, Any]) -> str:
    """The message of an ``error`` event, a failed response or an error object."""
    error = payload.get("error")
    if isinstance(error, dict):
        payload = error
    message = payload.get("message")
    if isinstance(message, str) and message:
        code = payload.get("code")
        return f"{code}: {message}" if isinstance(code, str) and code else message
    return stream_error(payload) or "the response failed"


def _incomplete_reason(response: Any) -> str:
    details = response.get("incomplete_details") if isinstance(response, dict) else None
    reason = details.get("reason") if isinstance(details, dict) else None
    return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
