"""Search and stats over the log: time bounds, the full-text query (user text is only ever
words inside quoted FTS5 strings or a bound LIKE pattern) and the SQL. A stats percentile is the
nearest-rank value: for a large selection picked in SQL by walking the (group, timing) index to
its rank; for a small one (at most `FETCH_AT_MOST` turns) sorted in Python."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dbchat_magic.errors import ConfigError

When = float | int | str | dt.datetime | dt.date
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WORD = re.compile(r"\w+", re.UNICODE)
STATS_BY = ("endpoint", "day")  # column names: also in the index names


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
    """WHERE clauses and their parameters for the common filters (those given)."""
    chosen = [(clause, value) for clause, value in (
        ("t.endpoint = ?", endpoint),
        ("t.asked_at >= ?", since),
        ("t.asked_at < ?", until),
        ("t.conversation_id IN (SELECT id FROM conversations WHERE name = ?)", conversation),
    ) if value is not None]
    return [clause for clause, _ in chosen], [value for _, value in chosen]


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
    """The column to group by: ``endpoint``, or ``day`` (the local calendar day asked)."""
    if by in STATS_BY:
        return f"t.{by}"
    raise ConfigError(f"stats can be grouped by {' or '.join(STATS_BY)} (got {by!r})")


def rank(p: float, n: int) -> int:
    """The nearest rank (1-based) of percentile ``p`` among ``n`` values."""
    return max(1, math.ceil(p * n))


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (None when empty)."""
    if not sorted_values:
        return None
    return sorted_values[rank(p, len(sorted_values)) - 1]


TIMINGS = ("ttft", "total_time", "tokens_per_second")
_PICKS = (("ttft", 0.5), ("ttft", 0.95), ("total_time", 0.5), ("total_time", 0.95),
          ("tokens_per_second", 0.5))  # the StatsRow fields, in order


FETCH_AT_MOST = 20_000  # matched turns up to which timings are read and sorted in Python
Pick = Callable[[str, str, bool, int], float | None]  # (key, timing, descending, offset) → value


def _source(since: bool) -> str:
    """A time bound reads the time index's range (the planner would scan a group index)."""
    return "turns t INDEXED BY turns_by_time" if since else "turns t"


def sums_sql(by: str, cond: str, *, since: bool = False) -> str:
    """Per group: key, count, failed, tokens, cost, then how many turns have each timing."""
    return (f"SELECT {group_key(by)} AS k, count(*), sum(t.status = 'failed'), "
            "sum(t.prompt_tokens), sum(t.completion_tokens), sum(t.total_tokens), "
            "sum(t.cost_usd), max(t.cost_estimated), sum(t.cost_usd IS NULL), "
            f"{', '.join(f'count(t.{m})' for m in TIMINGS)} FROM {_source(since)}{cond} "
            "GROUP BY k ORDER BY k")


def times_sql(by: str, cond: str, *, since: bool = False) -> str:
    """Every matched turn's key and timings (for a selection of at most `FETCH_AT_MOST`)."""
    return (f"SELECT {group_key(by)}, {', '.join(f't.{m}' for m in TIMINGS)} "
            f"FROM {_source(since)}{cond}")


def pick_sql(by: str, timing: str, where: Sequence[str], descending: bool) -> str:
    """The value at a rank (the OFFSET parameter) of ``timing`` in one group, read along the
    index ordered by (group, timing): a walk of at most that many index entries, no sort."""
    cond = "".join(f" AND {w}" for w in where)
    return (f"SELECT t.{timing} FROM turns t INDEXED BY turns_{by}_{timing} "
            f"WHERE {group_key(by)} = ? AND t.{timing} IS NOT NULL{cond} "
            f"ORDER BY t.{timing}{' DESC' if descending else ''} LIMIT 1 OFFSET ?")


def in_memory(times: Sequence[Sequence[Any]]) -> Pick:
    """A `Pick` over fetched (key, timings…) rows: each group's values sorted once."""
    lists: dict[tuple[Any, str], list[float]] = {}
    for key, *values in times:
        for timing, v in zip(TIMINGS, values, strict=True):
            if v is not None:
                lists.setdefault((key, timing), []).append(v)
    for values in lists.values():
        values.sort()

    def value(key: str, timing: str, descending: bool, offset: int) -> float | None:
        values = lists.get((key, timing), [])
        return values[-1 - offset] if descending else values[offset]
    return value


def stats_row(sums: Sequence[Any], value: Pick) -> StatsRow:
    """One `StatsRow` from its sums row; ``value`` gives the value at a rank, counted from the
    nearer end (the r-th smallest of n is the (n - r + 1)-th largest)."""
    key, count, failed, pt, ct, tt, cost, cost_est, unpriced = sums[:9]
    counts = dict(zip(TIMINGS, sums[9:12], strict=True))
    picked = []
    for timing, p in _PICKS:
        n = counts[timing] or 0
        r = rank(p, n)
        picked.append(None if n <= 0 else
                      value(key, timing, False, r - 1) if r - 1 <= n - r else
                      value(key, timing, True, n - r))
    return StatsRow(
        key=key, count=count, failed=failed or 0, ttft_p50=picked[0], ttft_p95=picked[1],
        total_p50=picked[2], total_p95=picked[3], tokens_per_second=picked[4],
        prompt_tokens=pt or 0, completion_tokens=ct or 0, total_tokens=tt or 0,
        cost_usd=cost if unpriced < count else None, cost_estimated=bool(cost_est),
        unpriced=unpriced or 0)
