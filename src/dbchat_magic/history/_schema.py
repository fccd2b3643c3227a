"""The history database: connection settings, the schema as numbered migrations in code
(`PRAGMA user_version` holds the version reached), and the FTS5 index (or none: LIKE search).

Version 1: ``conversations``, ``turns`` (numbers, then question/answer texts) and
``turn_payloads`` (composed messages, steps, specs), with a covering index for stats. Version 2:
the ``turns_fts`` full-text index over question and answer (external content, kept in step by
triggers; porter stemming), when the sqlite3 build has FTS5. Version 3: the local ``day`` of each
turn as a column (computed by SQLite from ``asked_at`` when the turn is written, in the local time
of the kernel that writes it); stats indexes, one per grouping (endpoint, day) and timing (first
token, total, tokens/s) so a percentile is a short walk along an index instead of reading every
row (the first of each also covers the sums); and ``resets``, where a conversation restarted
(``%dbchat reset``, ``--new``): restoring it continues from its last reset.
A migration runs inside one ``BEGIN IMMEDIATE`` transaction, so two kernels opening an old file
at once upgrade it once.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from dbchat_magic.errors import DbChatError

APPLICATION_ID = 0x64626368  # "dbch": marks the file as a dbchat history database
BUSY_TIMEOUT_MS = 5000
CACHE_KIB = 16384  # page cache per connection at most (the default 2 MiB holds few index pages)

_V1 = (
    """CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL)""",
    # numbers before texts: a row's first bytes hold what stats read
    """CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        asked_at REAL NOT NULL,
        finished_at REAL,
        endpoint TEXT NOT NULL,
        model TEXT,
        status TEXT NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        usage_estimated INTEGER NOT NULL DEFAULT 0,
        ttft REAL,
        total_time REAL,
        tokens_per_second REAL,
        retries INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL,
        cost_estimated INTEGER,
        finish_reason TEXT,
        error TEXT,
        question TEXT NOT NULL,
        sent_question TEXT,
        answer TEXT NOT NULL,
        reasoning TEXT,
        notes_json TEXT)""",
    # the bulky part (composed messages, zlib JSON; steps; specs), read only for one conversation
    """CREATE TABLE turn_payloads (
        turn_id INTEGER PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
        messages_z BLOB,
        steps_json TEXT,
        specs_json TEXT)""",
    "CREATE INDEX turns_by_conversation ON turns(conversation_id)",
    # two covering indexes: stats (and the endpoint and time filters) never read the rows
    """CREATE INDEX turns_stats ON turns(endpoint, asked_at, status, ttft, total_time,
        tokens_per_second, prompt_tokens, completion_tokens, total_tokens, cost_usd,
        cost_estimated)""",
    """CREATE INDEX turns_by_time ON turns(asked_at, endpoint, status, ttft, total_time,
        tokens_per_second, prompt_tokens, completion_tokens, total_tokens, cost_usd,
        cost_estimated)""",
)

_FTS = (
    """CREATE VIRTUAL TABLE turns_fts USING fts5(question, answer, content='turns',
        content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
        INSERT INTO turns_fts(rowid, question, answer) VALUES (new.id, new.question, new.answer);
    END""",
    """CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
        INSERT INTO turns_fts(turns_fts, rowid, question, answer)
            VALUES ('delete', old.id, old.question, old.answer);
    END""",
    """CREATE TRIGGER turns_fts_update AFTER UPDATE OF question, answer ON turns BEGIN
        INSERT INTO turns_fts(turns_fts, rowid, question, answer)
            VALUES ('delete', old.id, old.question, old.answer);
        INSERT INTO turns_fts(rowid, question, answer) VALUES (new.id, new.question, new.answer);
    END""",
    "INSERT INTO turns_fts(turns_fts) VALUES ('rebuild')",  # index the turns already logged
)



def day_of(expr: str) -> str:
    """SQL for the local calendar day (YYYY-MM-DD) of epoch seconds ``expr``."""
    return f"strftime('%Y-%m-%d', {expr}, 'unixepoch', 'localtime')"


# filter columns after the ordering one, so a filtered walk never reads the rows
_FILTERS = "asked_at, conversation_id"
_SUMS = ("status, prompt_tokens, completion_tokens, total_tokens, cost_usd, cost_estimated, "
         "total_time, tokens_per_second")  # with ttft: what the stats sums read
_V3 = (
    "ALTER TABLE turns ADD COLUMN day TEXT",
    f"UPDATE turns SET day = {day_of('asked_at')}",
    "DROP INDEX turns_stats",
    "DROP INDEX turns_by_time",
    f"CREATE INDEX turns_by_time ON turns(asked_at, endpoint, day, conversation_id, ttft, "
    f"{_SUMS})",
    f"CREATE INDEX turns_endpoint_ttft ON turns(endpoint, ttft, {_FILTERS}, {_SUMS})",
    f"CREATE INDEX turns_endpoint_total_time ON turns(endpoint, total_time, {_FILTERS})",
    f"CREATE INDEX turns_endpoint_tokens_per_second ON turns(endpoint, tokens_per_second, "
    f"{_FILTERS})",
    f"CREATE INDEX turns_day_ttft ON turns(day, ttft, endpoint, {_FILTERS}, {_SUMS})",
    f"CREATE INDEX turns_day_total_time ON turns(day, total_time, endpoint, {_FILTERS})",
    f"CREATE INDEX turns_day_tokens_per_second ON turns(day, tokens_per_second, endpoint, "
    f"{_FILTERS})",
    """CREATE TABLE resets (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        at REAL NOT NULL)""",
    "CREATE INDEX resets_by_conversation ON resets(conversation_id, at)",
)


class HistoryError(DbChatError):
    """The history database cannot be used (the message names the file and the reason)."""


def _v1(conn: sqlite3.Connection, fts: bool) -> None:
    for sql in _V1:
        conn.execute(sql)


def _v2(conn: sqlite3.Connection, fts: bool) -> None:
    if fts:
        create_fts(conn)


def _v3(conn: sqlite3.Connection, fts: bool) -> None:
    for sql in _V3:
        conn.execute(sql)


# MIGRATIONS[i] takes a database at version i to version i + 1.
MIGRATIONS: tuple[Callable[[sqlite3.Connection, bool], None], ...] = (_v1, _v2, _v3)
LATEST = len(MIGRATIONS)


@functools.cache
def fts5_available() -> bool:
    """True when this sqlite3 build has FTS5."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    except sqlite3.Error:
        return False
    return True


def has_fts(conn: sqlite3.Connection) -> bool:
    """True when the database holds the full-text index."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'turns_fts'").fetchone() \
        is not None


def create_fts(conn: sqlite3.Connection) -> None:
    """Create the index and its triggers and fill it from the turns already logged."""
    for sql in _FTS:
        conn.execute(sql)


def connect(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS
            ) -> tuple[sqlite3.Connection, list[str]]:
    """Open ``path`` (created 0600 in a 0700 directory) in autocommit mode with WAL, waiting up
    to ``busy_timeout_ms`` for another writer's lock; returns the connection and notes (e.g. WAL
    not supported by the file system)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    notes: list[str] = []
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            notes.append(f"history: the file system of {path} does not support WAL; using a "
                         f"{mode} journal (safe for kernels on this machine, slower)")
        for pragma in ("synchronous = NORMAL", "foreign_keys = ON", "secure_delete = ON",
                       f"cache_size = -{CACHE_KIB}"):
            conn.execute(f"PRAGMA {pragma}")
    except sqlite3.Error:
        conn.close()
        raise
    return conn, notes


def migrate(conn: sqlite3.Connection, path: Path, *, fts: bool) -> int:
    """Bring the schema to `LATEST` (no-op when there); returns the version found before."""
    found = _version(conn)
    if found < LATEST:
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = _version(conn)  # another kernel may have migrated meanwhile
            _check_ours(conn, path, found)
            for step in MIGRATIONS[found:]:
                step(conn, fts)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {LATEST}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    if found > LATEST:
        raise HistoryError(f"history database {path} has schema version {found}, newer than "
                           f"this dbchat-magic knows ({LATEST}): upgrade dbchat-magic")
    if fts and not has_fts(conn):  # made by a build without FTS5, now opened with one
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not has_fts(conn):
                create_fts(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_ours(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Refuse to write into another program's SQLite file."""
    app = int(conn.execute("PRAGMA application_id").fetchone()[0])
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if (app not in (0, APPLICATION_ID)) or (version == 0 and tables):
        raise HistoryError(f"{path} is not a dbchat history database; choose another "
                           "history_path")
