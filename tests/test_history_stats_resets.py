"""The history log, schema version 3: stats on known turns against hand-computed nearest-rank
p50/p95, percentiles read along an index (no sort, no row read), an older log migrating with its
turns kept, one-pass redaction equal to per-text redaction, and resets: marked, listed,
forgotten, and honoured by a restore (`conversation(since_reset=True)`)."""

from __future__ import annotations

import secrets
import sqlite3
import time
from pathlib import Path

import pytest

from dbchat_magic.auth import Secret, redact
from dbchat_magic.history import SCHEMA_VERSION, HistoryStore, TurnRecord
from dbchat_magic.history import _query as q
from dbchat_magic.history._record import redact_all
from dbchat_magic.history._schema import MIGRATIONS, connect
from dbchat_magic.pricing import Cost
from dbchat_magic.result import Metrics, Usage

DAY1 = time.mktime((2026, 11, 3, 10, 0, 0, 0, 0, -1))  # local times
DAY2 = time.mktime((2026, 11, 4, 10, 0, 0, 0, 0, -1))


def _turn(endpoint: str, ttft: float | None, total: float | None, *, at: float,
          conversation: str = "c", status: str = "completed", tokens: int = 10,
          cost: Cost | None = None) -> TurnRecord:
    return TurnRecord(question=f"q {endpoint} {ttft}", answer="a", endpoint=endpoint,
                      status=status, conversation=conversation, asked_at=at,
                      usage=Usage(100, tokens, 100 + tokens), cost=cost,
                      metrics=Metrics(time_to_first_token=ttft, total_time=total,
                                      tokens_per_second=None if total is None else tokens / total))


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    s = HistoryStore(tmp_path / "history.db")
    yield s
    s.close()


@pytest.fixture(params=["index walk", "sorted in Python"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of picking a percentile: along the index (any selection over
    `FETCH_AT_MOST` turns; 0 forces it) and in Python (small selections)."""
    if request.param == "index walk":
        monkeypatch.setattr(q, "FETCH_AT_MOST", 0)
    return str(request.param)


def test_stats_on_known_turns_match_hand_computed_percentiles(store: HistoryStore,
                                                              way: str) -> None:
    # endpoint "a": ttft 0.1 … 1.0 (ten turns) and one turn with no timing at all;
    # nearest rank: p50 of 10 values is the 5th (0.5), p95 the 10th (1.0)
    for i in range(1, 11):
        store.log_turn(_turn("a", i / 10, float(i), at=DAY1 + i, tokens=i,
                             cost=Cost(0.001 * i, estimated=i == 4)))
    store.log_turn(_turn("a", None, None, at=DAY2, status="failed"))
    # endpoint "b": three turns, totals 3, 1, 2 → p50 the 2nd (2.0), p95 the 3rd (3.0)
    for total, at in ((3.0, DAY2 + 1), (1.0, DAY2 + 2), (2.0, DAY2 + 3)):
        store.log_turn(_turn("b", total / 10, total, at=at, tokens=6, conversation="d"))
    a, b = store.stats()
    assert (a.key, a.count, a.failed) == ("a", 11, 1)
    assert (a.ttft_p50, a.ttft_p95, a.total_p50, a.total_p95) == (0.5, 1.0, 5.0, 10.0)
    assert a.tokens_per_second == 1.0  # every turn of "a" ran i tokens in i seconds
    assert (a.prompt_tokens, a.completion_tokens, a.total_tokens) == (1100, 65, 1165)
    assert a.cost_usd == pytest.approx(0.055) and a.cost_estimated and a.unpriced == 1
    assert (b.key, b.count, b.failed, b.cost_usd, b.unpriced) == ("b", 3, 0, None, 3)
    assert (b.ttft_p50, b.ttft_p95, b.total_p50, b.total_p95) == (0.2, 0.3, 2.0, 3.0)
    assert b.tokens_per_second == 3.0  # 6/3, 6/1, 6/2 → sorted 2, 3, 6: the 2nd
    day1, day2 = store.stats(by="day")
    assert (day1.key, day1.count, day1.total_p50, day1.total_p95) == ("2026-11-03", 10, 5.0, 10.0)
    assert (day2.key, day2.count, day2.failed) == ("2026-11-04", 4, 1)
    assert (day2.total_p50, day2.total_p95) == (2.0, 3.0)  # the untimed turn counts, unranked
    only = store.stats(by="day", endpoint="a")
    assert [(r.key, r.count, r.total_p50) for r in only] == [("2026-11-03", 10, 5.0),
                                                            ("2026-11-04", 1, None)]
    late = store.stats(since=DAY1 + 7)  # "a" keeps totals 7, 8, 9, 10 and the untimed turn
    assert [(r.key, r.count, r.total_p50, r.total_p95) for r in late] == [
        ("a", 5, 8.0, 10.0), ("b", 3, 2.0, 3.0)]  # ranks ⌈0.5·4⌉ = 2 and ⌈0.95·4⌉ = 4
    assert [(r.key, r.count, r.ttft_p50) for r in store.stats(conversation="d")] == [
        ("b", 3, 0.2)]


@pytest.mark.parametrize("n", [1, 2, 3, 19, 20, 21, 40])
def test_a_percentile_is_the_nearest_rank_from_either_end(store: HistoryStore, n: int,
                                                          way: str) -> None:
    values = [round((i * 7919) % 1000 / 100, 2) for i in range(n)]  # a fixed shuffle, with ties
    for i, v in enumerate(values):
        store.log_turn(_turn("e", v, v + 1, at=DAY1 + i))
    row, = store.stats()
    ordered = sorted(values)
    assert row.ttft_p50 == ordered[max(1, -(-n // 2)) - 1]
    assert row.ttft_p95 == ordered[max(1, -(-95 * n // 100)) - 1]
    assert row.total_p95 == q.percentile(sorted(v + 1 for v in values), 0.95)


def test_a_percentile_is_read_along_an_index_never_sorted(store: HistoryStore) -> None:
    store.log_turn(_turn("e", 1.0, 2.0, at=DAY1))
    conn = sqlite3.connect(store.path)
    for by in q.STATS_BY:
        for timing in q.TIMINGS:
            for descending in (False, True):
                sql = q.pick_sql(by, timing, ["t.asked_at >= ?"], descending)
                plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql,
                                                           ["k", 0.0, 0]))
                assert f"COVERING INDEX turns_{by}_{timing}" in plan and "TEMP B-TREE" not in plan
    conn.close()


def _version_2_database(path: Path) -> None:
    """A log written by the version-2 schema (no day column, no resets), with two turns."""
    conn, _ = connect(path)
    for step in MIGRATIONS[:2]:
        step(conn, True)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO conversations (name, created_at) VALUES ('old', 0)")
    for at, total in ((DAY1, 2.0), (DAY2, 4.0)):
        conn.execute("INSERT INTO turns (conversation_id, asked_at, endpoint, status, total_time,"
                     " question, answer) VALUES (1, ?, 'e', 'completed', ?, 'old revenue', 'a')",
                     (at, total))
    conn.close()


def test_a_version_2_log_migrates_and_keeps_its_turns(tmp_path: Path, way: str) -> None:
    path = tmp_path / "h.db"
    _version_2_database(path)
    store = HistoryStore(path)
    assert [t.asked_at for t in store.conversation("old")] == [DAY1, DAY2]
    assert [(r.key, r.total_p50) for r in store.stats(by="day")] == [("2026-11-03", 2.0),
                                                                    ("2026-11-04", 4.0)]
    assert len(store.search("revenue")) == 2
    assert store.log_turn(_turn("e", 1.0, 6.0, at=DAY2 + 5, conversation="old")) is not None
    assert store.stats()[0].total_p50 == 4.0 and store.stats()[0].count == 3
    assert store.log_reset("old", at=DAY2 + 10)
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert conn.execute("SELECT count(*) FROM turns WHERE day IS NULL").fetchone()[0] == 0
    conn.close()


def test_one_pass_redaction_equals_redacting_each_text() -> None:
    planted = "dapi" + secrets.token_hex(16)
    known = Secret("s3cr3t-" + secrets.token_hex(8)).reveal()
    texts = [f"token {planted} here", None, f"{known}", "", "plain", "sk-" + "a" * 24,
             f'{{"k": "{known}"}}']
    assert redact_all(texts) == [None if t is None else redact(t)[0] for t in texts]
    with_nul = ["a\x00b " + planted, known]  # a NUL in a text: redacted one by one
    assert redact_all(with_nul) == [redact(t)[0] for t in with_nul]
    assert all(planted not in (t or "") and known not in (t or "") for t in redact_all(texts))


def test_resets_are_marked_listed_and_honoured_by_a_restore(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = HistoryStore(path)
    assert not store.log_reset("sales", at=DAY1)  # nothing logged yet: nothing to mark
    for i, q_ in enumerate(("one", "two")):
        store.log_turn(TurnRecord(question=q_, conversation="sales", asked_at=DAY1 + i))
    assert store.log_reset("sales", at=DAY1 + 10)
    assert not store.log_reset("sales", at=DAY1 + 11)  # no turn since: no second mark
    store.log_turn(TurnRecord(question="three", conversation="sales", asked_at=DAY1 + 20))
    store.log_turn(TurnRecord(question="other", conversation="x", asked_at=DAY1 + 21))
    store.close()
    again = HistoryStore(path)  # "a kernel restart": a new store on the same file
    assert [t.question for t in again.conversation("sales", since_reset=True)] == ["three"]
    assert [t.question for t in again.conversation("sales")] == ["one", "two", "three"]
    assert [t.question for t in again.conversation("x", since_reset=True)] == ["other"]
    assert again.resets() == [("sales", DAY1 + 10)]
    assert again.resets("x") == [] and again.resets(since=DAY1 + 11) == []
    assert again.forget(before=DAY1 + 15) == 2  # the turns and the reset before the date
    assert again.resets() == []
    assert [t.question for t in again.conversation("sales", since_reset=True)] == ["three"]


def test_forgetting_a_conversation_forgets_its_resets(store: HistoryStore) -> None:
    store.log_turn(TurnRecord(question="q", conversation="gone", asked_at=DAY1))
    assert store.log_reset("gone", at=DAY1 + 1)
    store.log_turn(TurnRecord(question="q", conversation="kept", asked_at=DAY1))
    assert store.log_reset("kept", at=DAY1 + 1)
    assert store.forget(conversation="gone") == 1
    assert store.resets() == [("kept", DAY1 + 1)]


def test_a_reset_that_cannot_be_written_is_one_note(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not a database, just bytes " * 200)
    store = HistoryStore(path)
    assert store.log_reset("c") is False and store.log_reset("c") is False
    notes = store.take_notes()
    assert len(notes) == 1 and notes[0].startswith("history logging is off for this session")
