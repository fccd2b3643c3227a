"""`TurnRecord` (what is logged for one turn) and `StoredTurn` (what comes back), and their
conversion to and from database rows. Every text written is run through `auth.redact` first."""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbchat_magic.auth import redact
from dbchat_magic.events import ToolStep
from dbchat_magic.pricing import Cost
from dbchat_magic.result import ChatResult, Metrics, Usage

MAX_TEXT_CHARS = 1_000_000  # longest question/answer/reasoning kept (the rest is cut, with a mark)
MAX_JSON_CHARS = 2_000_000  # largest messages/steps/specs JSON kept (else a short placeholder)
_CUT_MARK = "\n[… cut by dbchat history]"
_NOTE_KEYS = ("prompt_notes", "warnings")  # the only extras logged (an allow-list)
_SEP = "\x00"


@dataclass
class TurnRecord:
    """One turn to log. Build it with `from_result`; ``messages`` are the composed messages sent,
    ``steps`` tool calls (JSON-able list), ``specs`` the answer's widget specs (JSON-able)."""

    question: str
    answer: str = ""
    endpoint: str = ""
    status: str = "completed"
    conversation: str = "default"
    asked_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    sent_question: str | None = None
    reasoning: str | None = None
    model: str | None = None
    error: str | None = None
    finish_reason: str | None = None
    messages: Sequence[Mapping[str, Any]] | None = None
    steps: Sequence[Any] | None = None
    specs: Sequence[Any] | None = None
    usage: Usage = field(default_factory=Usage)
    metrics: Metrics = field(default_factory=Metrics)
    cost: Cost | None = None
    notes: Sequence[str] = ()

    @classmethod
    def from_result(cls, question: str, result: ChatResult, *, conversation: str = "default",
                    messages: Sequence[Mapping[str, Any]] | None = None,
                    sent_question: str | None = None, cost: Cost | None = None,
                    steps: Sequence[Any] | None = None,
                    specs: Sequence[Any] | None = None) -> TurnRecord:
        """A record of a final ``result``; steps and specs default to the result's extras."""
        m = result.metrics
        finished = m.started_at + m.total_time if m.total_time is not None else None
        notes = [str(n) for key in _NOTE_KEYS for n in result.extras.get(key) or ()]
        return cls(
            question=question, answer=result.text, endpoint=result.endpoint,
            status=result.status, conversation=conversation, asked_at=m.started_at,
            finished_at=finished, sent_question=sent_question, reasoning=result.reasoning or None,
            model=result.model, error=result.error, finish_reason=result.finish_reason,
            messages=messages,
            steps=steps if steps is not None else _steps_of(result),
            specs=specs if specs is not None else _specs_of(result),
            usage=dataclasses.replace(result.usage), metrics=dataclasses.replace(m),
            cost=cost, notes=notes)


def _steps_of(result: ChatResult) -> list[Any] | None:
    """The result's tool steps as plain dicts (the shape of `Conversation.to_records`)."""
    steps = result.extras.get("steps", getattr(result, "steps", None))
    if not isinstance(steps, Sequence) or isinstance(steps, str):
        return None
    return [dataclasses.asdict(s) if isinstance(s, ToolStep) else s for s in steps]


def _as_steps(steps: Sequence[Any] | None) -> list[ToolStep]:
    """Logged step dicts as `ToolStep`s again (anything else is skipped)."""
    return [ToolStep(d["kind"], str(d.get("name", "")), str(d.get("text", "")), d.get("call_id"))
            for d in steps or () if isinstance(d, Mapping) and d.get("kind") in ("call", "output")]


def _specs_of(result: ChatResult) -> list[dict[str, Any]] | None:
    """Rendered specs as small JSON: kind, errors and notes (never the rendered mimebundle)."""
    found = result.extras.get("specs")
    if not isinstance(found, Sequence) or not found:
        return None
    return [{"kind": str(getattr(s, "kind", "")), "errors": list(getattr(s, "errors", []) or []),
             "notes": list(getattr(s, "notes", []) or [])} for s in found]


@dataclass
class StoredTurn:
    """A logged turn read back. ``messages``/``steps``/``specs`` are None unless loaded."""

    id: int
    conversation: str
    question: str
    answer: str
    endpoint: str
    status: str
    asked_at: float
    finished_at: float | None
    sent_question: str | None
    reasoning: str | None
    model: str | None
    error: str | None
    finish_reason: str | None
    usage: Usage
    metrics: Metrics
    cost: Cost | None
    notes: list[str]
    messages: list[dict[str, Any]] | None = None
    steps: list[Any] | None = None
    specs: list[Any] | None = None

    def to_result(self) -> ChatResult:
        """The turn as a final `ChatResult` (to rebuild a `Conversation` after a restart)."""
        return ChatResult(endpoint=self.endpoint, text=self.answer, reasoning=self.reasoning or "",
                          usage=dataclasses.replace(self.usage),
                          metrics=dataclasses.replace(self.metrics), status=self.status,  # type: ignore[arg-type]
                          finish_reason=self.finish_reason, error=self.error, model=self.model,
                          steps=_as_steps(self.steps))

    def to_record(self) -> dict[str, Any]:
        """Plain data in the shape of `Conversation.to_records` plus what only the log keeps."""
        u, m = self.usage, self.metrics
        return {
            "question": self.question, "answer": self.answer, "reasoning": self.reasoning,
            "status": self.status, "error": self.error, "endpoint": self.endpoint,
            "model": self.model, "asked_at": self.asked_at,
            "usage": {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                      "total_tokens": u.total_tokens, "estimated": u.estimated},
            "metrics": {"time_to_first_token": m.time_to_first_token,
                        "total_time": m.total_time, "tokens_per_second": m.tokens_per_second,
                        "retries": m.retries},
            "id": self.id, "conversation": self.conversation, "finished_at": self.finished_at,
            "sent_question": self.sent_question, "finish_reason": self.finish_reason,
            "cost": None if self.cost is None else {"usd": self.cost.usd,
                                                    "estimated": self.cost.estimated},
            "notes": list(self.notes), "messages": self.messages, "steps": self.steps,
            "tool_call_note": self.to_result().tool_call_note,
            "specs": self.specs,
        }


# --- rows --------------------------------------------------------------------------------------
TURN_COLUMNS = (
    "asked_at", "finished_at", "endpoint", "model", "status", "prompt_tokens",
    "completion_tokens", "total_tokens", "usage_estimated", "ttft", "total_time",
    "tokens_per_second", "retries", "cost_usd", "cost_estimated", "finish_reason", "error",
    "question", "sent_question", "answer", "reasoning", "notes_json",
)
PAYLOAD_COLUMNS = ("messages_z", "steps_json", "specs_json")


def _bounded(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value)
    return value[:MAX_TEXT_CHARS] + _CUT_MARK if len(value) > MAX_TEXT_CHARS else value


def _json(value: Any) -> str | None:
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, default=_jsonable)
    return json.dumps({"cut": True, "chars": len(text)}) if len(text) > MAX_JSON_CHARS else text


def _jsonable(obj: Any) -> Any:
    """Dataclasses as dicts, anything else as its str (never an object's repr of a secret)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return str(obj)


def redact_all(texts: Sequence[str | None]) -> list[str | None]:
    """Each text through `auth.redact`, in one call when no text holds the NUL separator (the
    credential list is gathered once, not once per text; no credential or token shape holds a
    NUL, so joining changes no match). Falls back to one call per text."""
    present = [t for t in texts if t is not None]
    joined = _SEP.join(present)
    if present and _SEP not in "".join(present):
        parts = redact(joined)[0].split(_SEP)
        if len(parts) == len(present):
            it = iter(parts)
            return [None if t is None else next(it) for t in texts]
    return [None if t is None else redact(t)[0] for t in texts]


def record_row(rec: TurnRecord) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """The values for `TURN_COLUMNS` and for `PAYLOAD_COLUMNS` (None when there is no payload),
    redacted and bounded."""
    u, m, c = rec.usage, rec.metrics, rec.cost
    (endpoint, model, status, finish_reason, error, question, sent_question, answer, reasoning,
     notes, messages, steps, specs) = redact_all([
        _bounded(rec.endpoint), _bounded(rec.model), _bounded(rec.status),
        _bounded(rec.finish_reason), _bounded(rec.error), _bounded(rec.question),
        _bounded(rec.sent_question), _bounded(rec.answer), _bounded(rec.reasoning),
        _json(list(rec.notes)) if rec.notes else None,
        _json(list(rec.messages) if rec.messages is not None else None),
        _json(rec.steps), _json(rec.specs)])
    row = (
        float(rec.asked_at), rec.finished_at, endpoint or "", model, status or "",
        u.prompt_tokens, u.completion_tokens, u.total_tokens, int(bool(u.estimated)),
        m.time_to_first_token, m.total_time, m.tokens_per_second, m.retries,
        c.usd if c is not None else None, int(c.estimated) if c is not None else None,
        finish_reason, error, question or "", sent_question, answer or "", reasoning, notes,
    )
    payload = (zlib.compress(messages.encode(), 6) if messages is not None else None,
               steps, specs)
    return row, (payload if any(v is not None for v in payload) else None)


SELECT_COLUMNS = ("t.id, c.name, t.question, t.answer, t.endpoint, t.status, t.asked_at, "
                  "t.finished_at, t.sent_question, t.reasoning, t.model, t.error, "
                  "t.finish_reason, t.prompt_tokens, t.completion_tokens, t.total_tokens, "
                  "t.usage_estimated, t.ttft, t.total_time, t.tokens_per_second, t.retries, "
                  "t.cost_usd, t.cost_estimated, t.notes_json")
SELECT_PAYLOAD = ", p.messages_z, p.steps_json, p.specs_json"


def stored_turn(row: Sequence[Any], *, payload: bool = False) -> StoredTurn:
    """A `StoredTurn` from a row selected with `SELECT_COLUMNS` (+ `SELECT_PAYLOAD`)."""
    (id_, conv, question, answer, endpoint, status, asked_at, finished_at, sent_question,
     reasoning, model, error, finish_reason, pt, ct, tt, u_est, ttft, total, tps, retries,
     cost_usd, cost_est, notes) = row[:24]
    turn = StoredTurn(
        id=id_, conversation=conv, question=question, answer=answer, endpoint=endpoint,
        status=status, asked_at=asked_at, finished_at=finished_at, sent_question=sent_question,
        reasoning=reasoning, model=model, error=error, finish_reason=finish_reason,
        usage=Usage(pt, ct, tt, bool(u_est)),
        metrics=Metrics(started_at=asked_at, time_to_first_token=ttft, total_time=total,
                        tokens_per_second=tps, retries=retries or 0),
        cost=Cost(cost_usd, bool(cost_est)) if cost_usd is not None else None,
        notes=json.loads(notes) if notes else [])
    if payload:
        messages_z, steps, specs = row[24:27]
        turn.messages = json.loads(zlib.decompress(messages_z)) if messages_z else None
        turn.steps = json.loads(steps) if steps else None
        turn.specs = json.loads(specs) if specs else None
    return turn
