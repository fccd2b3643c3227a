"""Search and stats over the log: time bounds, the full-text query (user text is only ever
words inside quoted FTS5 strings or a bound LIKE pattern), the SQL, and p50/p95 in Python."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dbchat_magic.errors import ConfigError

When = float | int | str | dt.datetime | dt.date
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WORD = re.compile(r"\w+", re.UNICODE)
STATS_BY = ("endpoint", "day")


def epoch(value: When | None, name: str = "since") -> float | None:
    """Epoch seconds from a number, a datetime/date (naive = local time), an ISO date or time
    ("2026-11-01", "2026-11-01T09:30") or an age ("90m", "12h", "7d", "2w": that long ago)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a date, a time or an age such as 7d (got {value!r})")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time()).timestamp()
    if isinstance(value, str):
        m = _RELATIVE.match(value)
        if m:
            return time.time() - float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        try:
            return dt.datetime.fromisoformat(value.strip()).timestamp()
        except ValueError:
            pass
    raise ConfigError(f"{name} must be a date such as 2026-11-01, a time such as "
                      f"2026-11-01T09:30 or an age such as 7d or 12h (got {value!r})")


def fts_query(text: str) -> str | None:
    """The words of ``text`` as an FTS5 query (all must occur, porter-stemmed: "sale" finds
    "sales"), or None when ``text`` has no word. Each word is a quoted string, so no FTS5 syntax
    gets through."""
    words = _WORD.findall(text)
    if not words:
        return None
    return " ".join(f'"{w}"' for w in words[:32])  # \\w+ holds no quote: nothing to escape


def like_pattern(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere (% _ and \\ escaped with \\)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filters(*, endpoint: str | None, since: float | None, until: float | None,
            conversation: str | None) -> tuple[list[str], list[Any]]:
    """WHERE clauses and their parameters for the common filters."""
    where: list[str] = []
    params: list[Any] = []
    if endpoint is not None:
        where.append("t.endpoint = ?")
        params.append(endpoint)
    if since is not None:
        where.append("t.asked_at >= ?")
        params.append(since)
    if until is not None:
        where.append("t.asked_at < ?")
        params.append(until)
    if conversation is not None:
        where.append("t.conversation_id IN (SELECT id FROM conversations WHERE name = ?)")
        params.append(conversation)
    return where, params


def like_filter(text: str) -> tuple[str, list[Any]]:
    """LIKE over question and answer: every word must occur (the whole text when it has none)."""
    words = _WORD.findall(text)[:32] or [text]
    clauses, params = [], []
    for word in words:
        clauses.append("(t.question LIKE ? ESCAPE '\\' OR t.answer LIKE ? ESCAPE '\\')")
        params += [like_pattern(word)] * 2
    return " AND ".join(clauses), params


@dataclass(frozen=True, slots=True)
class StatsRow:
    """One group of `HistoryStore.stats`: times in seconds, tokens summed, cost in USD (None
    when no answer in the group had a price; ``unpriced`` counts those without)."""

    key: str
    count: int
    failed: int
    ttft_p50: float | None
    ttft_p95: float | None
    total_p50: float | None
    total_p95: float | None
    tokens_per_second: float | None  # median over answers
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float | None
    cost_estimated: bool
    unpriced: int


def group_key(by: str) -> str:
    """The SQL expression to group by (local calendar day, or endpoint)."""
    if by == "endpoint":
        return "t.endpoint"
    if by == "day":
        return "strftime('%Y-%m-%d', t.asked_at, 'unixepoch', 'localtime')"
    raise ConfigError(f"stats can be grouped by {' or '.join(STATS_BY)} (got {by!r})")


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p * len(sorted_values)))
    return sorted_values[rank - 1]


def stats_rows(sums: Sequence[Sequence[Any]], times: Sequence[Sequence[Any]]) -> list[StatsRow]:
    """Join the SQL sums (key, count, failed, tokens…, cost…) with per-group timings."""
    per_key: dict[str, tuple[list[float], list[float], list[float]]] = {}
    for key, ttft, total, tps in times:
        lists = per_key.setdefault(key, ([], [], []))
        for values, v in zip(lists, (ttft, total, tps), strict=True):
            if v is not None:
                values.append(v)
    out = []
    for key, count, failed, pt, ct, tt, cost, cost_est, unpriced in sums:
        ttfts, totals, tpss = (sorted(v) for v in per_key.get(key, ([], [], [])))
        out.append(StatsRow(
            key=key, count=count, failed=failed or 0,
            ttft_p50=percentile(ttfts, 0.5), ttft_p95=percentile(ttfts, 0.95),
            total_p50=percentile(totals, 0.5), total_p95=percentile(totals, 0.95),
            tokens_per_second=percentile(tpss, 0.5), prompt_tokens=pt or 0,
            completion_tokens=ct or 0, total_tokens=tt or 0,
            cost_usd=cost if unpriced < count else None, cost_estimated=bool(cost_est),
            unpriced=unpriced or 0))
    return out
