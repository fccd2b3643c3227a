"""Compose the messages of one question: ``[system, *history, user]``.

The system message is persona + format rules + data context, kept as its own message unless the
endpoint does not accept a system role (``system_role=False``): then it opens the final user
message instead. History is trimmed oldest-first to ``history_budget_tokens``; with a known
context window (``context_tokens``) data context and history are also capped to the room the
fixed parts and ``max_tokens`` leave (`_window`), and a question that cannot fit raises
`BadRequest` before anything is sent. Known credential
values (see `dbchat_magic.auth.redact`) in the question, the data context and the history are
replaced by ``[redacted]`` before anything is sent, with a note saying so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbchat_magic.auth import REDACTED, redact
from dbchat_magic.prompts._data_context import (
    DEFAULT_BUDGET,
    DEFAULT_FRAME_BUDGET,
    build_data_context,
)
from dbchat_magic.prompts._personas import Persona, get_persona
from dbchat_magic.prompts._window import MESSAGE_FRAMING, Window, bounded
from dbchat_magic.tokens import estimate_tokens

DEFAULT_HISTORY_BUDGET = 3000
Message = dict[str, str]


@dataclass(frozen=True)
class PromptPart:
    """Size of one part of the prompt: characters and estimated tokens."""

    name: str
    chars: int
    tokens: int


@dataclass
class ComposedPrompt:
    """The messages to send, the size of each part, and what was left out."""

    messages: list[Message]
    parts: list[PromptPart]
    frames: list[str] = field(default_factory=list)
    frames_omitted: list[str] = field(default_factory=list)
    history_dropped: int = 0
    question: str = ""  # the question as sent (credentials redacted): what a turn records
    notes: list[str] = field(default_factory=list)  # what a view should tell, e.g. redactions

    @property
    def tokens(self) -> int:
        """Estimated tokens of all parts."""
        return sum(p.tokens for p in self.parts)

    def show(self, header: str = "") -> str:
        """Plain text for ``--show-prompt``: ``header``, every message in full, the size of each
        part, what was left out, then the notes."""
        lines = [header, ""] if header else []
        for i, msg in enumerate(self.messages, 1):
            content = msg.get("content")
            text = content if isinstance(content, str) else repr(content)
            lines += [f"── message {i}: {msg.get('role')} ({len(text):,} chars) ──", text, ""]
        lines.append("Parts:")
        for part in self.parts:
            lines.append(f"  {part.name:<24} {part.chars:>8,} chars  {part.tokens:>7,} tokens")
        total_chars = sum(p.chars for p in self.parts)
        lines.append(f"  {'total':<24} {total_chars:>8,} chars  {self.tokens:>7,} tokens")
        if self.history_dropped:
            lines.append(f"({self.history_dropped} older history messages dropped to fit the "
                         "history budget)")
        if self.frames_omitted:
            lines.append("(frames not described: " + ", ".join(self.frames_omitted) + ")")
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)


def _part(name: str, text: str) -> PromptPart:
    return PromptPart(name, len(text), estimate_tokens(text))


def _setting(value: Any, settings: Any, name: str, default: Any) -> Any:
    """Explicit argument, else the Settings field, else the default."""
    if value is not None:
        return value
    got = getattr(settings, name, None) if settings is not None else None
    return default if got is None else got


def trim_history(history: Iterable[Mapping[str, Any]], budget_tokens: int) -> tuple[
        list[Message], int]:
    """Keep the newest user/assistant messages that fit ``budget_tokens``; return them and the
    number dropped. System messages in the history are dropped (the system prompt is rebuilt)."""
    messages = [{"role": str(m["role"]), "content": str(m.get("content") or "")}
                for m in history
                if isinstance(m, Mapping) and m.get("role") in ("user", "assistant")]
    kept: list[Message] = []
    used = 0
    for msg in reversed(messages):
        cost = estimate_tokens(msg["content"]) + 4  # a few tokens of role framing per message
        if used + cost > budget_tokens:
            break
        kept.append(msg)
        used += cost
    kept.reverse()
    while kept and kept[0]["role"] == "assistant":  # never open with an orphaned answer
        kept.pop(0)
    return kept, len(messages) - len(kept)


def compose(question: str, *, namespace: Mapping[str, Any] | None = None,
            frames: str | Sequence[str] | None = None,
            history: Iterable[Mapping[str, Any]] = (), persona: str | Persona | None = None,
            format_rules: str = "", settings: Any = None, system_role: bool | None = None,
            history_budget_tokens: int | None = None, context_budget_tokens: int | None = None,
            frame_budget_tokens: int | None = None, context_tokens: int | None = None,
            max_tokens: int | None = None) -> ComposedPrompt:
    """Build ``[system, *history, user]`` for ``question``.

    ``frames``: names ("a,b" or a list) to describe (`FrameNotFound` if one is not a frame),
    ``None`` for the most recently touched frames, ``[]`` for none. Budgets, ``persona`` /
    ``system_role``, ``context_tokens`` and ``max_tokens`` (the answer's share of the window)
    come from the arguments, else ``settings``, else the defaults (no window).
    """
    chosen = persona if isinstance(persona, Persona) else get_persona(
        _setting(persona, settings, "persona", None))
    use_system = bool(_setting(system_role, settings, "system_role", True))
    hist_budget = int(_setting(history_budget_tokens, settings, "history_budget_tokens",
                               DEFAULT_HISTORY_BUDGET))
    ctx_budget = int(_setting(context_budget_tokens, settings, "context_budget_tokens",
                              DEFAULT_BUDGET))
    frame_budget = int(_setting(frame_budget_tokens, settings, "frame_budget_tokens",
                                DEFAULT_FRAME_BUDGET))

    sections = [chosen.text]
    rules = format_rules.strip()
    if rules:
        sections.append(rules)
    question, redacted = redact(question)
    window = _window(settings, context_tokens, max_tokens, [*sections, question])
    if window is not None:
        window.check(estimate_tokens(question))
    context_text, described, omitted, in_context = "", [], [], 0
    if namespace is not None and not (frames is not None and not frames):
        ctx = build_data_context(namespace, frames, budget_tokens=bounded(ctx_budget, window),
                                 frame_budget_tokens=frame_budget)
        context_text, described, omitted = ctx.text, ctx.described, ctx.omitted
        context_text, in_context = redact(context_text)
        sections.append(context_text)
    system = "\n\n".join(sections)
    kept, dropped = trim_history(
        history, bounded(hist_budget, window, estimate_tokens(context_text)))
    redacted += in_context + _redact_messages(kept)

    if use_system:
        messages = [{"role": "system", "content": system}, *kept,
                    {"role": "user", "content": question}]
    else:
        merged = f"{system}\n\n## Question\n{question}"
        messages = [*kept, {"role": "user", "content": merged}]
    history_text = "\n".join(m["content"] for m in kept)
    parts = [_part("persona", chosen.text), _part("format rules", rules),
             _part("data context", context_text), _part("history", history_text),
             _part("question", question)]
    notes = [redaction_note(redacted)] if redacted else []
    return ComposedPrompt(messages, parts, described, omitted, dropped, question, notes)


def _window(settings: Any, context_tokens: int | None, max_tokens: int | None,
            fixed: list[str]) -> Window | None:
    """The context window to fit, or None when its size is unknown."""
    size = _setting(context_tokens, settings, "context_tokens", None)
    if size is None:
        return None
    reserve = int(_setting(max_tokens, settings, "max_tokens", 0))
    cost = sum(estimate_tokens(text) for text in fixed) + 2 * MESSAGE_FRAMING
    return Window(int(size), cost, reserve)


def _redact_messages(messages: list[Message]) -> int:
    """Redact credentials in ``messages`` in place; how many were replaced."""
    count = 0
    for msg in messages:
        msg["content"], n = redact(msg["content"])
        count += n
    return count


def redaction_note(count: int) -> str:
    """The note shown when credentials were kept out of a prompt."""
    what = "a credential" if count == 1 else f"{count} credentials"
    return (f"{what} (a token or key known to this kernel) replaced by {REDACTED} before "
            "sending")
