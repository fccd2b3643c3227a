"""History log cost (issue 14): logging one turn, and search / stats over 100,000 logged turns.

A log of 100,000 realistic turns (≈80-char questions, ≈1,200-char answers, ≈6 KB of composed
messages each, 4 endpoints, 200 conversations over 60 days) is filled in bulk, then:
- `log_turn` of one more turn, timed one by one on the empty log and on the full one
  (each its own short transaction, WAL, synchronous=NORMAL, redaction included);
- `search` (FTS5: common word, rare word, stemmed word, words + endpoint + since, hostile text;
  no text + endpoint) and `stats` (by endpoint, by day, last 7 days, one conversation), median and
  worst of 7 runs; LIKE (no FTS5) for contrast;
- the newest 50 turns of one conversation since its last reset (what ``-c NAME`` restores);
- `forget` of one conversation (≈500 turns; secure delete, FTS merge, WAL checkpoint);
- 4 processes logging 250 turns each at once (per-turn latency under contention).

Run: ``.venv/bin/python bench/bench_history.py``; writes ``bench/results/history.md``. Exit status
1 when logging takes over 2 ms per turn (median) or a search/stats over 200 ms (median).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbchat_magic.history import HistoryStore, TurnRecord
from dbchat_magic.history._record import PAYLOAD_COLUMNS, TURN_COLUMNS, record_row
from dbchat_magic.history._schema import day_of
from dbchat_magic.pricing import Cost
from dbchat_magic.result import Metrics, Usage

N_TURNS = 100_000
REPEAT = 7
LOG_TARGET_MS, QUERY_TARGET_MS = 2.0, 200.0
RESULTS = Path(__file__).parent / "results" / "history.md"
ENDPOINTS = ("databricks-meta-llama-3-3-70b-instruct", "databricks-claude-3-7-sonnet",
             "databricks-gpt-oss-120b", "databricks-gpt-5-mini")
WORDS = (
    "revenue", "sales", "region", "quarter", "growth", "margin", "customer", "churn", "forecast",
    "price", "units", "north", "south", "east", "west", "total", "average", "median", "trend",
    "chart", "table", "spend", "cost", "order", "product", "segment", "retention", "cohort",
    "weekly", "monthly", "yearly", "increase", "decrease",
)
SYSTEM = "You are a careful data analyst. " * 60  # ≈2 KB, like the persona + format rules


def text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def record(rng: random.Random, i: int, now: float) -> TurnRecord:
    """One realistic turn, ``i`` spreads them over 60 days and 200 conversations."""
    q = text(rng, 14) + f" q{i}?"
    a = text(rng, 180)
    ttft = rng.uniform(0.2, 2.0)
    total = ttft + rng.uniform(0.5, 8.0)
    usage = Usage(rng.randint(500, 4000), rng.randint(50, 600), None, estimated=False)
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    return TurnRecord(
        question=q, answer=a, endpoint=ENDPOINTS[i % len(ENDPOINTS)],
        status="failed" if i % 50 == 0 else "completed", conversation=f"conv-{i % 200}",
        asked_at=now - 60 * 86400 * (1 - i / N_TURNS), model="served-model",
        messages=[{"role": "system", "content": SYSTEM},
                  {"role": "user", "content": text(rng, 40)},
                  {"role": "assistant", "content": text(rng, 200)},
                  {"role": "user", "content": q}],
        usage=usage, metrics=Metrics(time_to_first_token=ttft, total_time=total,
                                     tokens_per_second=usage.completion_tokens / total),
        cost=Cost(usage.prompt_tokens * 5e-7, estimated=True) if i % 3 else None)


def fill(path: Path, n: int) -> float:
    """Bulk-insert ``n`` turns (one transaction per 5,000); returns seconds."""
    store = HistoryStore(path)
    store.count()  # create the schema
    store.close()
    rng, now = random.Random(0), time.time()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    names = [f"conv-{i}" for i in range(200)]
    conn.executemany("INSERT OR IGNORE INTO conversations (name, created_at) VALUES (?, ?)",
                     [(n_, now) for n_ in names])
    ids = dict(conn.execute("SELECT name, id FROM conversations"))
    sql = (f"INSERT INTO turns (id, conversation_id, day, {', '.join(TURN_COLUMNS)}) "
           f"VALUES (?, ?, {day_of('?')}, {', '.join('?' * len(TURN_COLUMNS))})")
    payload_sql = (f"INSERT INTO turn_payloads (turn_id, {', '.join(PAYLOAD_COLUMNS)}) "
                   "VALUES (?, ?, ?, ?)")
    start = time.perf_counter()
    for lo in range(0, n, 5000):
        rows, payloads = [], []
        for i in range(lo, min(n, lo + 5000)):
            rec = record(rng, i, now)
            row, payload = record_row(rec)
            rows.append((i + 1, ids[rec.conversation], row[0], *row))
            payloads.append((i + 1, *payload))
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.executemany(payload_sql, payloads)
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - start


def log_times(store: HistoryStore, n: int, seed: int) -> list[float]:
    """ms of ``n`` single `log_turn` calls."""
    rng, now, out = random.Random(seed), time.time(), []
    for i in range(n):
        rec = record(rng, i, now)
        start = time.perf_counter()
        assert store.log_turn(rec) is not None, store.take_notes()
        out.append((time.perf_counter() - start) * 1000)
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, float, float, Any]:
    out = fn()
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), max(times), out


def _worker(path: str, seed: int, n: int, queue: Any) -> None:
    store = HistoryStore(path)
    queue.put(log_times(store, n, seed))


def concurrent(path: Path, procs: int = 4, n: int = 250) -> list[float]:
    """Per-turn ms of ``procs`` processes logging ``n`` turns each at once."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(str(path), 100 + k, n, queue))
               for k in range(procs)]
    for w in workers:
        w.start()
    times = [t for _ in workers for t in queue.get(timeout=300)]
    for w in workers:
        w.join(60)
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> int:
    """Run the benchmark, write the results table, return the exit status."""
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        empty = HistoryStore(Path(tmp) / "empty.db")
        first = log_times(empty, 300, 1)
        path = Path(tmp) / "history.db"
        fill_s = fill(path, N_TURNS)
        store = HistoryStore(path)
        full = log_times(store, 300, 2)
        log_rows = [("empty log", first), (f"{N_TURNS:,} turns logged", full)]
        for label, ts in log_rows:
            if statistics.median(ts) > LOG_TARGET_MS:
                failures.append(f"log_turn on {label}: {statistics.median(ts):.2f} ms")
        rare = store.search("q77777")[0].question.split()[-1].rstrip("?")
        queries: list[tuple[str, Callable[[], Any]]] = [
            ('search "revenue" (common word)', lambda: store.search("revenue")),
            (f'search "{rare}" (one turn)', lambda: store.search(rare)),
            ('search "forecasts" (stemmed)', lambda: store.search("forecasts")),
            ('search "margin churn" + endpoint + since 7d',
             lambda: store.search("margin churn", endpoint=ENDPOINTS[1], since="7d")),
            ("search \"' OR 1=1; DROP TABLE turns; --\"",
             lambda: store.search("' OR 1=1; DROP TABLE turns; --")),
            ("search, no text, endpoint filter, limit 100",
             lambda: store.search(endpoint=ENDPOINTS[2], limit=100)),
            ("stats by endpoint (all 100k)", lambda: store.stats()),
            ("stats by day (all 100k)", lambda: store.stats(by="day")),
            ("stats by endpoint, since 7d", lambda: store.stats(since="7d")),
            ("stats by day, since 7d", lambda: store.stats(by="day", since="7d")),
            ("stats by endpoint, one conversation", lambda: store.stats(conversation="conv-5")),
            ("restore: newest 50 turns of a conversation since its last reset",
             lambda: store.conversation("conv-5", limit=50, since_reset=True)),
        ]
        query_rows = []
        for label, fn in queries:
            med, best, worst, out = timed(fn)
            query_rows.append(f"| {label} | {med:.1f} | {best:.1f} | {worst:.1f} | {len(out)} |")
            print(query_rows[-1], flush=True)
            if med > QUERY_TARGET_MS:
                failures.append(f"{label}: {med:.0f} ms")
        like = HistoryStore(path, fts=False)
        like_rows = []
        for label, fn in [('LIKE search "revenue"', lambda: like.search("revenue")),
                          ("LIKE search \"revenue\" + endpoint + since 7d",
                           lambda: like.search("revenue", endpoint=ENDPOINTS[1], since="7d")),
                          (f'LIKE search "{rare}"', lambda: like.search(rare))]:
            med, best, worst, out = timed(fn)
            like_rows.append(f"| {label} (no FTS5, contrast) | {med:.1f} | {best:.1f} | "
                             f"{worst:.1f} | {len(out)} |")
        size_mb = path.stat().st_size / 2**20
        start = time.perf_counter()
        gone = store.forget(conversation="conv-7")
        forget_ms = (time.perf_counter() - start) * 1000
        conc = concurrent(path)
    log_table = [f"| {label} | {statistics.median(ts):.2f} | {p95(ts):.2f} | {max(ts):.2f} |"
                 for label, ts in log_rows]
    log_table.append(f"| 4 processes × 250 turns at once | {statistics.median(conc):.2f} | "
                     f"{p95(conc):.2f} | {max(conc):.2f} |")
    lines = [
        "## History log (bench/bench_history.py)",
        "",
        f"`HistoryStore.log_turn` one turn at a time (redaction, JSON, zlib of the composed "
        f"messages, one `BEGIN IMMEDIATE` transaction, WAL, synchronous=NORMAL); target ≤ "
        f"{LOG_TARGET_MS:g} ms per turn.",
        "",
        "| log | median ms | p95 ms | worst ms |",
        "|---|---:|---:|---:|",
        *log_table,
        "",
        f"Search and stats over {N_TURNS:,} turns (≈6 KB of messages each; file {size_mb:,.0f} "
        f"MB, filled in {fill_s:.0f} s), median/best/worst of {REPEAT}; target ≤ "
        f"{QUERY_TARGET_MS:.0f} ms.",
        "",
        "| query | median ms | best | worst | rows |",
        "|---|---:|---:|---:|---:|",
        *query_rows,
        *like_rows,
        "",
        f"`forget(conversation=…)` of {gone} turns (secure delete, FTS5 merge, WAL checkpoint): "
        f"{forget_ms:,.0f} ms.",
        "",
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}; load average while "
        f"run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine). Result: "
        + ("all targets met." if not failures else "MISSED: " + "; ".join(failures)),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
