"""The history log: real answers logged and read back (a conversation continued after a
restart), search (FTS5 and the LIKE fallback; hostile text stays a plain search), stats,
forget, migrations from an older schema, several processes writing at once, credentials never
stored, logging that fails turns itself off with one note, and the location rule."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import secrets
import sqlite3
import stat
import sys
import time
from pathlib import Path

import pytest

from client_helpers import ask, client_for
from dbchat_magic.auth import Secret
from dbchat_magic.config import config_dir
from dbchat_magic.conversation import Conversation
from dbchat_magic.errors import ConfigError
from dbchat_magic.history import (
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
    TurnRecord,
    fts5_available,
    history_location,
)
from dbchat_magic.history._schema import APPLICATION_ID, MIGRATIONS
from dbchat_magic.pricing import Cost, parse_prices
from dbchat_magic.result import ChatResult, Metrics, Usage
from dbchat_magic.simulator import CLAUDE, LLAMA, Gate, Simulator
from dbchat_magic.specs import RenderedSpec

needs_fts = pytest.mark.skipif(not fts5_available(), reason="sqlite3 built without FTS5")


def _messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are a careful analyst."},
            {"role": "user", "content": question}]


def _rec(question: str, answer: str = "an answer", **kw: object) -> TurnRecord:
    return TurnRecord(question=question, answer=answer, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    s = HistoryStore(tmp_path / "history.db")
    yield s
    s.close()


def test_real_answers_round_trip_and_continue_a_conversation(sim: Simulator,
                                                             tmp_path: Path) -> None:
    client = client_for(sim)
    conv = Conversation("sales")
    path = tmp_path / "h.db"
    store = HistoryStore(path)
    prices = parse_prices({LLAMA: {"input": 0.5, "output": 1.5}})
    for q in ("How are sales?", "And by region?"):
        messages = [*_messages(q)[:1], *conv.history_messages(), _messages(q)[1]]
        r = ask(client, messages)
        conv.add(q, r)
        rec = TurnRecord.from_result(q, r, conversation="sales", messages=messages,
                                     cost=prices.cost(r.usage, r.endpoint))
        assert store.log_turn(rec) is not None
    store.close()  # "kernel restart": a new store on the same file
    turns = HistoryStore(path).conversation("sales")
    assert [t.question for t in turns] == ["How are sales?", "And by region?"]
    first = conv.turns[0].result
    assert turns[0].answer == first.text and turns[0].endpoint == LLAMA
    assert turns[0].model == first.model and turns[0].status == "completed"
    assert turns[0].usage == first.usage
    assert turns[0].metrics.time_to_first_token == first.metrics.time_to_first_token
    assert turns[0].cost is not None and turns[0].cost.usd > 0 and not turns[0].cost.estimated
    assert turns[1].messages[-1] == {"role": "user", "content": "And by region?"}
    assert turns[1].messages[1]["content"] == "How are sales?"  # history as it was sent
    restored = Conversation("sales")
    for t in turns:
        restored.add(t.question, t.to_result(), sent_question=t.sent_question)
    assert restored.history_messages() == conv.history_messages()


def test_failed_and_stopped_answers_are_logged_with_their_status(sim: Simulator,
                                                                 store: HistoryStore) -> None:
    sim.inject("500", message="backend exploded")
    failed = ask(client_for(sim, max_retries=0))
    assert failed.status == "failed"
    store.log_turn(TurnRecord.from_result("q1", failed, conversation="c"))

    async def stop_early(slow: Simulator) -> ChatResult:
        client = client_for(slow)
        result = ChatResult()
        task = asyncio.create_task(client.complete(_messages("q2"), result=result))
        while not result.text:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
        return result

    with Simulator() as slow:
        gate = Gate(after_tokens=5)  # held mid-way: the answer cannot end before the cancel
        slow.set_pacing(gate=gate)
        try:
            stopped = asyncio.run(stop_early(slow))
        finally:
            gate.open()
    store.log_turn(TurnRecord.from_result("q2", stopped, conversation="c"))
    t1, t2 = store.conversation("c")
    assert t1.status == "failed" and "500" in (t1.error or "") and t1.answer == ""
    assert t2.status == "stopped" and t2.answer == stopped.text and t2.answer
    assert t2.usage == stopped.usage and t2.metrics.total_time == stopped.metrics.total_time


def test_logging_leaves_no_utf8_copy_in_the_answer_it_keeps(store: HistoryStore) -> None:
    """sqlite3 binds a str through its UTF-8 form, which CPython then keeps inside that str (and
    sys.getsizeof counts): the conversation's own answer text must not carry one per answer."""
    answer = "revenue — North is up 12 %, São Paulo down " * 20  # not ASCII
    question = "¿qué pasó?"
    sizes = (sys.getsizeof(answer), sys.getsizeof(question))
    store.log_turn(_rec(question, answer))
    assert (sys.getsizeof(answer), sys.getsizeof(question)) == sizes
    assert store.conversation("default")[0].answer == answer


def _planted() -> tuple[str, str, str]:
    shaped = "dapi" + secrets.token_hex(16)
    held = "held-" + secrets.token_urlsafe(24)
    Secret(held)  # a Secret made in this process is known to `redact`
    env_value = "envtok-" + secrets.token_urlsafe(24)
    return shaped, held, env_value


def test_no_credential_is_ever_stored(store: HistoryStore,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shaped, held, env_value = _planted()
    monkeypatch.setenv("DATABRICKS_TOKEN", env_value)
    planted = f"my token is {shaped}, {held} and {env_value}"
    r = ChatResult(endpoint=LLAMA, text=f"echo: {planted}", reasoning=planted,
                   status="failed", error=f"401 for Bearer {shaped}")
    r.extras["steps"] = [{"tool": "sql", "arguments": {"token": held}}]
    r.extras["warnings"] = [f"header echo {env_value}"]
    rec = TurnRecord.from_result(planted, r, conversation=f"c-{shaped}",
                                 messages=_messages(planted), sent_question=planted)
    assert store.log_turn(rec) is not None
    raw = b"".join(p.read_bytes() for p in store.path.parent.glob("history.db*"))
    turn = store.conversation(f"c-{'[redacted]'}")[0]
    shown = repr(turn.to_record())
    for value in (shaped, held, env_value):
        assert value.encode() not in raw
        assert value not in shown
    assert turn.question.count("[redacted]") == 3
    assert "[redacted]" in turn.messages[1]["content"] and "[redacted]" in turn.steps[0][
        "arguments"]["token"]


def test_file_and_new_folder_are_private(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "new" / "history.db")
    store.log_turn(_rec("q"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) & 0o077 == 0


def _fill(store: HistoryStore) -> None:
    now = time.time()
    rows = [
        ("How did revenue grow in Q3?", "Revenue grew 12% in the north.", LLAMA, now - 10 * 86400),
        ("Why did DROP TABLE turns; -- fail?", "Because it is text.", CLAUDE, now - 3 * 86400),
        ("Show churn by segment", "Churn is 4% in retail; 100% of rows OK", LLAMA, now - 3600),
        ("What about sales forecasts?", "Sales will rise.", CLAUDE, now - 60),
    ]
    for i, (q, a, ep, at) in enumerate(rows):
        store.log_turn(_rec(q, a, endpoint=ep, asked_at=at, conversation=f"c{i % 2}",
                            messages=_messages(q)))


@pytest.mark.parametrize("fts", [pytest.param(True, marks=needs_fts), False],
                         ids=["fts5", "like"])
def test_search_filters_and_order(tmp_path: Path, fts: bool) -> None:
    store = HistoryStore(tmp_path / "h.db", fts=fts)
    _fill(store)
    assert store.full_text is fts
    assert [t.question for t in store.search("revenue")] == ["How did revenue grow in Q3?"]
    assert [t.endpoint for t in store.search()] == [CLAUDE, LLAMA, CLAUDE, LLAMA]  # newest first
    assert [t.question for t in store.search(endpoint=CLAUDE, since="7d")] == [
        "What about sales forecasts?", "Why did DROP TABLE turns; -- fail?"]
    assert len(store.search(since="2h")) == 2 and len(store.search(until="2d")) == 2
    assert [t.conversation for t in store.search(conversation="c1")] == ["c1", "c1"]
    assert len(store.search(limit=1)) == 1
    assert store.search("churn retail")[0].answer.startswith("Churn")  # every word, either field
    assert store.search("churn sales") == []


@pytest.mark.parametrize("fts", [pytest.param(True, marks=needs_fts), False],
                         ids=["fts5", "like"])
@pytest.mark.parametrize("text", [
    "'; DROP TABLE turns; --", "\" OR 1=1 --", "NEAR(a b)", "churn*", "-churn", "answer:x",
    "^revenue", "%", "_", "\\", "(", "\"", "''", "a\x00b", "🙂",
])
def test_hostile_search_text_is_a_plain_search(tmp_path: Path, fts: bool, text: str) -> None:
    store = HistoryStore(tmp_path / "h.db", fts=fts)
    _fill(store)
    store.search(text)  # no error whatever the text
    assert store.count() == 4


@pytest.mark.parametrize("fts", [pytest.param(True, marks=needs_fts), False],
                         ids=["fts5", "like"])
def test_injection_looking_text_finds_what_contains_it(tmp_path: Path, fts: bool) -> None:
    store = HistoryStore(tmp_path / "h.db", fts=fts)
    _fill(store)
    found = store.search("DROP TABLE turns; --")
    assert [t.question for t in found] == ["Why did DROP TABLE turns; -- fail?"]
    assert [t.question for t in store.search("100%")] == ["Show churn by segment"]
    if not fts:
        assert store.search("100_") == []  # LIKE: "_" is a literal, not a wildcard


@needs_fts
def test_fts_stems_words(store: HistoryStore) -> None:
    _fill(store)
    assert [t.question for t in store.search("forecast")] == ["What about sales forecasts?"]


def test_search_argument_errors(store: HistoryStore) -> None:
    for bad in ({"since": "last tuesday"}, {"limit": 0}, {"limit": "5"}, {"since": True}):
        with pytest.raises(ConfigError):
            store.search(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="too long"):
        store.search("x" * 1001)
    with pytest.raises(ConfigError, match="grouped by endpoint or day"):
        store.stats(by="week")


def _timed(endpoint: str, ttft: float, total: float, *, status: str = "completed",
           cost: Cost | None = None, at: float | None = None) -> TurnRecord:
    return _rec("q", endpoint=endpoint, status=status, cost=cost,
                asked_at=at if at is not None else time.time(),
                usage=Usage(100, 10, 110),
                metrics=Metrics(time_to_first_token=ttft, total_time=total,
                                tokens_per_second=10 / total))


def test_stats_by_endpoint(store: HistoryStore) -> None:
    for i in range(1, 21):  # ttft 0.1 … 2.0, total 1 … 20
        store.log_turn(_timed("a", i / 10, float(i), cost=Cost(0.01, estimated=i == 3)))
    store.log_turn(_timed("b", 0.5, 2.0, status="failed"))
    a, b = store.stats()
    assert (a.key, a.count, a.failed) == ("a", 20, 0)
    assert a.ttft_p50 == pytest.approx(1.0) and a.ttft_p95 == pytest.approx(1.9)
    assert a.total_p50 == 10 and a.total_p95 == 19
    assert a.prompt_tokens == 2000 and a.completion_tokens == 200 and a.total_tokens == 2200
    assert a.cost_usd == pytest.approx(0.2) and a.cost_estimated and a.unpriced == 0
    assert a.tokens_per_second == pytest.approx(10 / 11)  # median of 10/total (nearest rank)
    assert (b.key, b.count, b.failed, b.cost_usd, b.unpriced) == ("b", 1, 1, None, 1)
    assert [r.key for r in store.stats(endpoint="b")] == ["b"]


def test_stats_by_local_day(store: HistoryStore) -> None:
    day1 = time.mktime((2026, 11, 3, 23, 30, 0, 0, 0, -1))
    day2 = time.mktime((2026, 11, 4, 0, 30, 0, 0, 0, -1))
    store.log_turn(_timed("a", 1, 2, at=day1))
    store.log_turn(_timed("a", 1, 2, at=day2))
    store.log_turn(_timed("b", 1, 2, at=day2))
    rows = store.stats(by="day")
    assert [(r.key, r.count) for r in rows] == [("2026-11-03", 1), ("2026-11-04", 2)]
    assert [r.key for r in store.stats(by="day", since="2026-11-04")] == ["2026-11-04"]


def test_forget(store: HistoryStore) -> None:
    _fill(store)
    ids = [t.id for t in store.search()]
    with pytest.raises(ConfigError, match="forget needs"):
        store.forget()
    assert store.forget(ids=[ids[0]]) == 1
    assert store.forget(conversation="c0", before="7d") == 1  # the 10-day-old c0 turn only
    assert store.search("revenue") == []
    assert store.forget(conversation="c0") == 1
    assert [name for name, _, _ in store.conversations()] == ["c1"]
    assert store.forget(ids=[]) == 0 and store.forget(conversation="nobody") == 0
    assert store.count() == 1 and store.export("c0") == []
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT count(*) FROM turn_payloads").fetchone()[0] == 1  # cascaded
    conn.close()


def test_forgotten_text_leaves_the_files(store: HistoryStore) -> None:
    _fill(store)
    store.forget(conversation="c0")
    raw = b"".join(p.read_bytes() for p in store.path.parent.glob("history.db*"))
    assert b"Revenue grew 12% in the north." not in raw and b"How did revenue grow" not in raw
    assert b"Sales will rise." in raw  # a kept turn, for contrast


@needs_fts
def test_forgotten_text_leaves_the_index(store: HistoryStore) -> None:
    _fill(store)
    store.forget(conversation="c0")
    conn = sqlite3.connect(store.path)
    hits = conn.execute("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'revenue'")
    assert hits.fetchone()[0] == 0
    conn.close()


def test_export_has_conversation_records_shape(sim: Simulator, store: HistoryStore) -> None:
    r = ask(client_for(sim))
    r.extras["specs"] = [RenderedSpec("table", {"text/plain": "x" * 5000}, ["capped"], [])]
    store.log_turn(TurnRecord.from_result("How are sales?", r, conversation="e",
                                          messages=_messages("How are sales?")))
    conv = Conversation("e")
    conv.add("How are sales?", r)
    (rec,) = store.export("e")
    (want,) = conv.to_records()
    # the log keeps specs without their drawings (checked below), the export drawn ones
    assert {k: rec[k] for k in want if k not in ("asked_at", "specs")} == {
        k: v for k, v in want.items() if k not in ("asked_at", "specs")}
    assert rec["asked_at"] == r.metrics.started_at  # the log keeps when the question was sent
    assert rec["specs"] == [{"kind": "table", "errors": [], "notes": ["capped"]}]  # no bundle
    assert rec["messages"] == _messages("How are sales?") and rec["conversation"] == "e"


def _v1_database(path: Path) -> None:
    """A file as version 1 of the schema left it, with two turns logged."""
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn, False)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO conversations (name, created_at) VALUES ('old', 0)")
    for q, a in (("old question about revenue", "old answer"), ("second", "more margin")):
        conn.execute("INSERT INTO turns (conversation_id, asked_at, endpoint, status, question, "
                     "answer) VALUES (1, ?, 'e', 'completed', ?, ?)", (time.time(), q, a))
    conn.close()


def test_upgrade_from_version_1(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    _v1_database(path)
    store = HistoryStore(path)
    assert store.search("revenue")[0].question == "old question about revenue"
    assert store.log_turn(_rec("new question about margin", conversation="old")) is not None
    assert len(store.search("margin")) == 2
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert (conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'turns_fts'").fetchone()
            is not None) == fts5_available()
    conn.close()


@needs_fts
def test_index_is_built_when_a_like_only_file_meets_fts5(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    like = HistoryStore(path, fts=False)
    like.log_turn(_rec("revenue by month"))
    like.close()
    assert HistoryStore(path).search("revenue")[0].question == "revenue by month"


def test_newer_schema_turns_logging_off_with_one_note(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    HistoryStore(path).count()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    store = HistoryStore(path)
    assert store.log_turn(_rec("q")) is None
    assert store.log_turn(_rec("q")) is None and not store.logging_enabled
    notes = store.take_notes()
    assert len(notes) == 1 and "newer than this dbchat-magic knows" in notes[0]
    with pytest.raises(HistoryError, match="upgrade dbchat-magic"):
        store.search("q")


def test_another_programs_sqlite_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE experiments (id INTEGER)")
    conn.commit()
    conn.close()
    store = HistoryStore(path)
    assert store.log_turn(_rec("q")) is None
    assert "not a dbchat history database" in store.take_notes()[0]
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["experiments"]
    conn.close()


@pytest.mark.parametrize("make_bad", ["dir", "parent_file", "garbage"])
def test_unusable_path_never_breaks_logging(tmp_path: Path, make_bad: str) -> None:
    if make_bad == "dir":
        path = tmp_path / "h.db"
        path.mkdir()
    elif make_bad == "parent_file":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "h.db"
    else:
        path = tmp_path / "h.db"
        path.write_bytes(b"this is not a database, just bytes " * 200)
    store = HistoryStore(path)
    assert store.log_turn(_rec("q")) is None
    assert store.log_turn(_rec("q")) is None
    notes = store.take_notes()
    assert len(notes) == 1 and notes[0].startswith("history logging is off for this session")
    assert store.take_notes() == []
    with pytest.raises(HistoryError):
        store.search()


def test_long_text_is_bounded(store: HistoryStore) -> None:
    from dbchat_magic.history._record import MAX_TEXT_CHARS

    store.log_turn(_rec("q", "a" * (MAX_TEXT_CHARS + 10)))
    (t,) = store.search()
    assert len(t.answer) < MAX_TEXT_CHARS + 100 and t.answer.endswith("cut by dbchat history]")


def test_a_write_lock_held_elsewhere_is_waited_for_then_tried_twice_more(tmp_path: Path) -> None:
    """Another kernel holding the write lock: the turn is tried three times, then one note."""
    path = tmp_path / "h.db"
    store = HistoryStore(path, busy_timeout=0.01)
    assert store.count() == 0  # the file and its schema exist
    begins: list[str] = []
    store._connection().set_trace_callback(
        lambda sql: begins.append(sql) if sql.startswith("BEGIN") else None)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert store.log_turn(_rec("q")) is None
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert begins == ["BEGIN IMMEDIATE"] * 3
    (note,) = store.take_notes()
    assert note.startswith("history logging is off") and "database is locked" in note


def _writer(path: str, worker: int, n: int) -> None:
    store = HistoryStore(path, busy_timeout=120)  # a loaded machine may hold a lock for seconds
    for i in range(n):
        rid = store.log_turn(_rec(f"worker {worker} turn {i} revenue", conversation=f"w{worker}",
                                  messages=_messages("x" * 2000)))
        assert rid is not None, store.take_notes()


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    """4 processes open one fresh file at once (schema made once) and log 40 turns each."""
    path = tmp_path / "h.db"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), k, 40)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = HistoryStore(path)
    assert store.count() == 160
    for k in range(4):
        turns = store.conversation(f"w{k}")
        assert [t.question for t in turns] == [f"worker {k} turn {i} revenue" for i in range(40)]
    assert len(store.search("revenue", limit=500)) == 160


# --- location -------------------------------------------------------------------------------
def test_location_default_and_setting(tmp_path: Path) -> None:
    path, note = history_location(env={})
    assert path == config_dir() / "history.db" and note is None
    assert history_location(str(tmp_path / "x.db"), env={})[0] == tmp_path / "x.db"
    assert history_location(str(tmp_path), env={})[0] == tmp_path / "history.db"
    assert history_location("~/h.db", env={})[0] == Path.home() / "h.db"


def test_location_on_databricks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "Users"
    (users / "alice@example.com" / "project").mkdir(parents=True)
    env = {"DATABRICKS_RUNTIME_VERSION": "17.3"}
    path, note = history_location(env=env, user="alice@example.com", workspace_users=users)
    assert path == users / "alice@example.com" / ".dbchat" / "history.db" and note is None
    monkeypatch.chdir(users / "alice@example.com" / "project")  # DBR 14+: the notebook's folder
    assert history_location(env=env, workspace_users=users)[0].parent.parent.name == \
        "alice@example.com"
    path, note = history_location(env=env, user="bob@example.com", workspace_users=users)
    assert path == config_dir() / "history.db" and "cluster restart erases" in note
    assert history_location(env=env, user="../etc", workspace_users=users)[0] == \
        config_dir() / "history.db"
    s = HistoryStore(history_location(env=env, user="alice@example.com",
                                      workspace_users=users)[0])
    assert s.log_turn(_rec("q")) is not None
    assert os.path.exists(users / "alice@example.com" / ".dbchat" / "history.db")
