"""Named conversations: the turns asked so far, the history sent with the next question, export.

A conversation never holds a credential: a turn keeps the question, the answer text and its metrics.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dbchat_magic.events import ToolStep
from dbchat_magic.markup import clean_text, detached, fenced, safe_inline, safe_markdown
from dbchat_magic.result import ChatResult, step_line
from dbchat_magic.tokens import estimate_tokens

__all__ = ["DEFAULT_NAME", "ChartSink", "Conversation", "Turn", "conversation_names",
           "get_conversation", "new_conversation", "turn_steps"]

DEFAULT_NAME = "default"
ChartSink = Callable[[str, str], str]
"""``(file name, SVG text) → link``: where an export keeps a chart image (it writes the file)."""
_HISTORY_STATUSES = frozenset({"completed", "truncated", "stopped"})


@dataclass(slots=True)
class Turn:
    """One question and its answer. ``sent_question`` is the user message as sent (may differ from
    ``question`` when a composer added notes); ``asked_at``: when its request started (epoch s)."""

    question: str
    result: ChatResult
    sent_question: str | None = None
    asked_at: float = field(default_factory=time.time)

    @property
    def answer(self) -> str:
        """The answer text (partial when the turn was stopped)."""
        return self.result.text


class Conversation:
    """The ordered turns of one named chat; thread-safe (the runner loop records answers)."""

    def __init__(self, name: str = DEFAULT_NAME) -> None:
        self.name = name
        self._turns: list[Turn] = []
        self._lock = threading.Lock()

    @property
    def turns(self) -> list[Turn]:
        """A copy of the turns, oldest first."""
        with self._lock:
            return list(self._turns)

    def __len__(self) -> int:
        with self._lock:
            return len(self._turns)

    def add(self, question: str, result: ChatResult, *, sent_question: str | None = None) -> Turn:
        """Record a finished turn and return it."""
        turn = Turn(question=question, result=result, sent_question=sent_question,
                    asked_at=result.metrics.started_at)  # the same float: not one more per turn
        with self._lock:
            self._turns.append(turn)
        return turn

    def reset(self) -> None:
        """Forget every turn."""
        with self._lock:
            self._turns.clear()

    def history_messages(self, budget_tokens: int | None = None) -> list[dict[str, str]]:
        """Earlier turns as chat messages (``user``/``assistant`` pairs), oldest first.

        Failed turns and empty answers are left out; a stopped answer is sent as the partial text
        it is. With ``budget_tokens`` only the newest turns that fit (`estimate_tokens`, plus a
        few tokens of role framing per message) are kept.
        """
        pairs: list[list[dict[str, str]]] = []
        for turn in self.turns:
            if turn.result.status not in _HISTORY_STATUSES or not turn.result.text.strip():
                continue
            pairs.append([
                {"role": "user", "content": turn.sent_question or turn.question},
                {"role": "assistant", "content": turn.result.text},
            ])
        if budget_tokens is not None:
            kept: list[list[dict[str, str]]] = []
            used = 0
            for pair in reversed(pairs):
                cost = sum(estimate_tokens(m["content"]) + 4 for m in pair)
                if used + cost > budget_tokens:
                    break
                kept.append(pair)
                used += cost
            pairs = list(reversed(kept))
        # copies: serializing the request would cache a UTF-8 form inside the kept strings
        return [{"role": m["role"], "content": detached(m["content"])} for pair in pairs
                for m in pair]

    def to_records(self) -> list[dict[str, Any]]:
        """Turns as plain dicts: question, answer, status, endpoint, model, usage and metrics."""
        return [_turn_record(t) for t in self.turns]

    def to_json(self) -> str:
        """The conversation as JSON text (no credentials ever; they are never stored here)."""
        return json.dumps({"conversation": self.name, "turns": self.to_records()}, indent=2,
                          ensure_ascii=False)

    def to_markdown(self, *, charts: ChartSink | None = None) -> str:
        """The conversation as Markdown: each question, its answer, the reasoning, the charts,
        tables and KPIs it drew, and a metrics line.

        Outside text stays readable Markdown but carries no raw HTML, image or link other than
        http(s)/mailto (`markup.safe_markdown`), whatever program renders the file. Charts are
        the package's own SVG renders: linked through ``charts`` (files beside the ``.md``), or
        inlined as data URIs without it.
        """
        lines = [f"# dbchat conversation: {safe_inline(self.name)}", ""]
        turns = self.turns
        for i, (turn, rec) in enumerate(zip(turns, map(_turn_record, turns), strict=True), 1):
            answer = safe_markdown(rec["answer"]) if rec["answer"] else "*(no answer)*"
            lines += [f"## {i}. {safe_inline(rec['question'])}", ""]
            if rec["steps"]:
                lines += ["*steps:*", ""]
                lines += [f"- {safe_inline(step_line(s))}" for s in turn_steps(rec)] + [""]
            if rec["tool_call_note"]:
                lines += [f"*{safe_inline(rec['tool_call_note'])}*", ""]
            lines += [answer, ""]
            if rec["reasoning"]:
                quoted = "\n".join(f"> {line}" if line else ">" for line in
                                   safe_markdown(rec["reasoning"]).splitlines())
                lines += ["> **Reasoning**", ">", quoted, ""]
            lines += _specs_markdown(turn.result, i, charts)
            meta = [safe_inline(rec["status"]), safe_inline(rec["endpoint"] or "?")]
            if rec["usage"]["completion_tokens"] is not None:
                meta.append(f"{rec['usage']['completion_tokens']} tokens")
            if rec["metrics"]["total_time"] is not None:
                meta.append(f"{rec['metrics']['total_time']:.2f} s")
            if rec["error"]:
                meta.append(f"error: {safe_inline(rec['error'])}")
            lines += ["*" + " · ".join(meta) + "*", ""]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Conversation {self.name!r}: {len(self)} turns>"


def _turn_record(turn: Turn) -> dict[str, Any]:
    r = turn.result
    return {
        "question": turn.question,
        "answer": r.text,
        "reasoning": r.reasoning or None,
        "steps": [{"kind": s.kind, "name": s.name, "text": s.text, "call_id": s.call_id}
                  for s in r.steps],
        "tool_call_note": r.tool_call_note,
        "status": r.status,
        "error": r.error,
        "endpoint": r.endpoint,
        "model": r.model,
        "asked_at": turn.asked_at,
        "specs": [_spec_record(rendered) for rendered in r.extras.get("specs") or ()],
        "usage": {"prompt_tokens": r.usage.prompt_tokens,
                  "completion_tokens": r.usage.completion_tokens,
                  "total_tokens": r.usage.total_tokens, "estimated": r.usage.estimated},
        "metrics": {"time_to_first_token": r.metrics.time_to_first_token,
                    "total_time": r.metrics.total_time,
                    "tokens_per_second": r.metrics.tokens_per_second,
                    "retries": r.metrics.retries},
    }


def turn_steps(record: dict[str, Any]) -> list[ToolStep]:
    """The steps of a turn record (`Conversation.to_records`) as `ToolStep`s again."""
    return [ToolStep(s["kind"], s["name"], s["text"], s["call_id"]) for s in record["steps"]]
_KIND_LABELS = {"chart": "Chart", "table": "Table", "kpi": "KPI"}


def _spec_record(rendered: Any) -> dict[str, Any]:
    """A drawn spec as plain data: its kind, its text, the SVG of a chart, its errors."""
    bundle = getattr(rendered, "mimebundle", None) or {}
    svg = bundle.get("image/svg+xml")
    return {"kind": str(getattr(rendered, "kind", "") or "spec"),
            "text": str(bundle.get("text/plain") or ""),
            "svg": svg if isinstance(svg, str) else None,
            "errors": [str(e) for e in getattr(rendered, "errors", None) or ()]}


def _specs_markdown(result: ChatResult, turn_no: int, charts: ChartSink | None) -> list[str]:
    """The charts (images), tables and KPIs (their text, labelled as such) an answer drew."""
    lines: list[str] = []
    for n, rendered in enumerate(result.extras.get("specs") or (), 1):
        rec = _spec_record(rendered)
        label = f"{_KIND_LABELS.get(rec['kind'], 'Spec')} {turn_no}.{n}"
        first = rec["text"].splitlines()[0] if rec["text"] else ""
        caption = re.sub(r"[\[\]]", "", safe_inline(first))  # nothing closes the alt text
        if rec["svg"] is not None:
            name = f"{turn_no}-{n}.svg"
            target = charts(name, rec["svg"]) if charts is not None else (
                "data:image/svg+xml;base64," + base64.b64encode(rec["svg"].encode()).decode())
            lines += [f"![{label}: {caption}]({target})", ""]
        elif rec["text"] and not rec["errors"]:
            lines += [f"**{label}**", "", fenced(clean_text(rec["text"])), ""]
        for error in rec["errors"]:
            lines += [f"*{label} not drawn: {safe_inline(error)}*", ""]
    return lines


_registry: dict[str, Conversation] = {}
_registry_lock = threading.Lock()


def get_conversation(name: str = DEFAULT_NAME) -> Conversation:
    """The conversation called ``name`` (created empty on first use)."""
    with _registry_lock:
        conv = _registry.get(name)
        if conv is None:
            conv = _registry[name] = Conversation(name)
        return conv


def new_conversation(name: str = DEFAULT_NAME) -> Conversation:
    """Replace the conversation called ``name`` by a fresh, empty one."""
    with _registry_lock:
        conv = _registry[name] = Conversation(name)
        return conv


def conversation_names() -> list[str]:
    """Names of the conversations that exist, in creation order."""
    with _registry_lock:
        return list(_registry)


def _forget_all(names: Iterable[str] | None = None) -> None:
    """Drop conversations from the registry (tests; `%unload_ext`)."""
    with _registry_lock:
        for name in list(names if names is not None else _registry):
            _registry.pop(name, None)
