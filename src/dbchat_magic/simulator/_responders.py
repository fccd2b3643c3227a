"""What the simulated model says: the responder protocol, a deterministic default and scripts."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_TOKEN_RE = re.compile(r"\s*\S+|\s+$")

# Word-sized pieces the default answer is built from; a few are non-ASCII so that random byte
# splits land inside UTF-8 sequences.
_VOCAB = (
    "the",
    "revenue",
    "grew",
    "in",
    "each",
    "region",
    "while",
    "costs",
    "stayed",
    "flat",
    "and",
    "margin",
    "improved",
    "by",
    "a",
    "few",
    "points",
    "over",
    "quarter",
    "données",
    "naïve",
    "café",
    "über",
    "€5",
    "数据",
    "🙂",
    "table",
    "shows",
    "sales",
    "per",
    "customer",
    "mean",
    "median",
    "trend",
    "is",
    "up",
    "down",
    "with",
    "seasonal",
    "peaks",
    "of",
    "rows",
    "column",
)


@dataclass(frozen=True)
class SimRequest:
    """One chat request as the responder sees it."""

    endpoint: str
    messages: list[dict[str, Any]]
    body: dict[str, Any]
    headers: Mapping[str, str]
    reply_tokens: int = 60

    @property
    def last_user_message(self) -> str:
        """Text of the last ``user`` message ("" when there is none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return content_text(message.get("content"))
        return ""


@dataclass(frozen=True)
class Reply:
    """A responder's answer: the text, and optional reasoning for reasoning-style endpoints."""

    text: str
    reasoning: str | None = None


Responder = Callable[[SimRequest], "str | Reply"]


def content_text(content: Any) -> str:
    """Plain text of a message ``content`` given as a string or a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, dict):
                if isinstance(block.get("text"), str):
                    parts.append(block["text"])
                for item in block.get("summary") or ():
                    if isinstance(item, dict) and isinstance(item.get("text"), str):
                        parts.append(item["text"])
        return "".join(parts)
    return ""


def tokenize(text: str) -> list[str]:
    """Split text into word-sized pieces (leading whitespace kept) that join back to ``text``."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """Number of word-sized pieces in ``text``."""
    return len(tokenize(text))


def _rng_for(question: str) -> random.Random:
    seed = int.from_bytes(hashlib.sha256(question.encode("utf-8")).digest()[:8], "big")
    return random.Random(seed)


def default_reply(request: SimRequest) -> Reply:
    """A deterministic answer derived from the question, exactly ``reply_tokens`` tokens long."""
    question = request.last_user_message
    rng = _rng_for(question)
    topic = " ".join(question.split()[:6]) or "your question"
    head = tokenize(f"Simulated answer to '{topic}':")
    n = max(1, request.reply_tokens)
    words = head[:n]
    picked = rng.choices(_VOCAB, k=n - len(words))
    words += [("\n\n" if i % 40 == 39 else " ") + w for i, w in enumerate(picked, len(words))]
    return Reply("".join(words))


def default_reasoning(request: SimRequest) -> str:
    """Deterministic reasoning text for reasoning-style endpoints."""
    topic = " ".join(request.last_user_message.split()[:6]) or "the question"
    return f"The user asks about {topic}. I should look at the data and answer briefly."


@dataclass
class ScriptedResponder:
    """Replies matched on a substring of the last user message; falls back to another responder."""

    fallback: Responder = default_reply
    scripts: list[tuple[str, str | Reply]] = field(default_factory=list)

    def add(self, match: str, reply: str | Reply) -> None:
        """Answer ``reply`` whenever the last user message contains ``match`` (latest wins)."""
        self.scripts.insert(0, (match, reply))

    def __call__(self, request: SimRequest) -> str | Reply:
        question = request.last_user_message
        for match, reply in self.scripts:
            if match in question:
                return reply
        return self.fallback(request)


def as_reply(answer: str | Reply) -> Reply:
    """Normalize a responder's answer to a `Reply`."""
    if isinstance(answer, Reply):
        return answer
    if isinstance(answer, str):
        return Reply(answer)
    raise TypeError(f"a responder must return str or Reply, not {type(answer).__name__}")
