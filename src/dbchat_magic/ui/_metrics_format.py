"""One-line metrics footer and status words for an answer (pure functions, no widgets)."""

from __future__ import annotations

from dbchat_magic.pricing import Cost, format_cost
from dbchat_magic.result import ChatResult

STATUS_WORDS: dict[str, str] = {
    "pending": "thinking…",
    "streaming": "streaming…",
    "completed": "done",
    "stopped": "stopped",
    "failed": "failed",
    "truncated": "truncated (the stream ended early)",
}
STATUS_ICONS: dict[str, str] = {
    "pending": "⏳", "streaming": "✎", "completed": "✓",
    "stopped": "■", "failed": "✗", "truncated": "⚠",
}


def _seconds(value: float) -> str:
    """1.234 -> "1.2 s"; 42.9 -> "43 s"."""
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def format_metrics(result: ChatResult) -> str:
    """``first token N ms · total N s · N tokens · N tok/s · endpoint · ≈ $0.0004``; unknown
    parts left out (no cost unless a price is known: ``extras["cost"]``, set by the session).

    Token counts and rates computed from an estimate (no usage from the server) are marked with ≈,
    and so is a cost from estimated counts or a shipped default price.
    "" for an answer that failed or was stopped before anything was received (no "total 0.0 s").
    """
    metrics, usage = result.metrics, result.usage
    if (result.status in ("failed", "stopped") and metrics.time_to_first_token is None
            and not result.text):
        return ""
    approx = "≈" if usage.estimated else ""
    parts: list[str] = []
    if metrics.time_to_first_token is not None:
        parts.append(f"first token {metrics.time_to_first_token * 1000:.0f} ms")
    if metrics.total_time is not None:
        parts.append(f"total {_seconds(metrics.total_time)}")
    if usage.completion_tokens is not None and (usage.completion_tokens or not usage.estimated):
        parts.append(f"{approx}{usage.completion_tokens} tokens")
    if metrics.tokens_per_second is not None:
        parts.append(f"{approx}{metrics.tokens_per_second:.1f} tok/s")
    if metrics.retries:
        parts.append(f"{metrics.retries} retr{'y' if metrics.retries == 1 else 'ies'}")
    if result.endpoint:
        parts.append(result.endpoint)
    cost = result.extras.get("cost")
    if isinstance(cost, Cost):
        parts.append(format_cost(cost))
    return " · ".join(parts)


def format_status(result: ChatResult, elapsed: float | None = None) -> str:
    """A short status line: "⏳ thinking… 3 s", "✎ streaming…", "✓ done", "■ stopped"…"""
    word = STATUS_WORDS.get(result.status, result.status)
    line = f"{STATUS_ICONS.get(result.status, '·')} {word}"
    if result.status == "pending" and elapsed is not None:
        line += f" {elapsed:.0f} s"
    return line
