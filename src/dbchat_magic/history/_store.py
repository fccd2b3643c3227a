"""`HistoryStore`: the embedded SQLite log of every turn (stdlib ``sqlite3``, WAL, short
``BEGIN IMMEDIATE`` transactions, a busy timeout), safe with several kernels writing at once.

Logging never breaks an answer: the first error of `log_turn` becomes one note (`take_notes`) and
logging stays off for this store. Reads (`search`, `stats`, …) raise `HistoryError` with a short
message instead, since the user asked for them.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from dbchat_magic.auth import redact
from dbchat_magic.errors import ConfigError
from dbchat_magic.history import _query as q
from dbchat_magic.history._record import (
    PAYLOAD_COLUMNS,
    SELECT_COLUMNS,
    SELECT_PAYLOAD,
    TURN_COLUMNS,
    StoredTurn,
    TurnRecord,
    record_row,
    stored_turn,
)
from dbchat_magic.history._schema import (
    BUSY_TIMEOUT_MS,
    HistoryError,
    connect,
    day_of,
    fts5_available,
    has_fts,
    migrate,
)

T = TypeVar("T")
# the conversation's id looked up in the same statement; the local day computed by SQLite
_INSERT = (f"INSERT INTO turns (conversation_id, day, {', '.join(TURN_COLUMNS)}) "
           f"VALUES ((SELECT id FROM conversations WHERE name = ?), {day_of('?')}, "
           f"{', '.join('?' * len(TURN_COLUMNS))})")
_INSERT_PAYLOAD = (f"INSERT INTO turn_payloads (turn_id, {', '.join(PAYLOAD_COLUMNS)}) "
                   f"VALUES (?, {', '.join('?' * len(PAYLOAD_COLUMNS))})")
_FROM = "FROM turns t JOIN conversations c ON c.id = t.conversation_id"
_LAST_RESET = "SELECT max(r.at) FROM resets r WHERE r.conversation_id = c.id"
_SINCE_RESET = f" AND t.asked_at >= coalesce(({_LAST_RESET}), t.asked_at)"
# a reset is marked only when the conversation has a turn since its last one (no run of marks)
_MARK_RESET = ("INSERT INTO resets (conversation_id, at) SELECT c.id, :at FROM conversations c "
               "WHERE c.name = :name AND EXISTS (SELECT 1 FROM turns t WHERE "
               f"t.conversation_id = c.id{_SINCE_RESET} AND t.asked_at <= :at)")
MAX_LIMIT = 10_000
# "database is locked" after the busy timeout, or at once where SQLite cannot wait (a lock taken
# while WAL is switched on or recovered): tried again this many times, after these pauses
_LOCKED_PAUSES = (0.05, 0.5)
# SQLite 3.42+: FTS5 can remove a deleted row's terms at once; older builds merge the index
_FTS_SECURE_DELETE = sqlite3.sqlite_version_info >= (3, 42, 0)


class HistoryStore:
    """The log at ``path`` (opened on first use). ``fts=False`` forces LIKE search (tests; the
    default uses FTS5 when the sqlite3 build has it). ``busy_timeout``: seconds a statement waits
    for another kernel's write lock before the store tries again (twice), then gives up."""

    def __init__(self, path: str | os.PathLike[str], *, fts: bool | None = None,
                 busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self.path = Path(path).expanduser()
        self._busy_ms = int(busy_timeout * 1000)
        self._want_fts = fts5_available() if fts is None else (fts and fts5_available())
        self._conn: sqlite3.Connection | None = None
        self._fts = False
        self._lock = threading.RLock()
        self._notes: list[str] = []
        self.logging_enabled = True

    # --- connection -------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn, notes = connect(self.path, self._busy_ms)
            try:
                migrate(conn, self.path, fts=self._want_fts)
                self._fts = has_fts(conn)
                if self._fts and _FTS_SECURE_DELETE:
                    conn.execute("INSERT INTO turns_fts(turns_fts, rank) "
                                 "VALUES ('secure-delete', 1)")
            except BaseException:
                conn.close()
                raise
            if not self._fts:
                notes.append("history: this sqlite3 build has no FTS5; searching with LIKE "
                             "(slower on a large log)" if not fts5_available() else
                             "history: full-text index off; searching with LIKE")
            self._notes += notes
            self._conn = conn
        return self._conn

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return self._unlocked(fn)
            except HistoryError:
                raise
            except (sqlite3.Error, OSError) as exc:
                raise HistoryError(f"history database {self.path}: {_reason(exc)}") from None

    def _unlocked(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)``, tried again after a pause when SQLite says the file is locked."""
        for pause in _LOCKED_PAUSES:
            try:
                return fn(self._connection())
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc):
                    raise
            time.sleep(pause)
        return fn(self._connection())

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def txn(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return out
        return self._read(txn)

    @property
    def full_text(self) -> bool:
        """True when search uses the FTS5 index (False: LIKE)."""
        self._read(lambda _conn: None)
        return self._fts

    def take_notes(self) -> list[str]:
        """Notes to show once (logging turned off, LIKE fallback, no WAL); cleared when read."""
        with self._lock:
            notes, self._notes = self._notes, []
        return notes

    def add_note(self, note: str) -> None:
        """Queue a note to show once (e.g. that the location does not survive a restart)."""
        with self._lock:
            self._notes.append(note)

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- logging ----------------------------------------------------------------------------
    def log_turn(self, record: TurnRecord) -> int | None:
        """Log one turn (redacted); returns its id, or None when logging is off or failed (the
        failure becomes one note and turns logging off for this store). Never raises."""
        if not self.logging_enabled:
            return None
        try:
            row, payload = record_row(record)
            name = redact(record.conversation or "default")[0]
            return self._write(lambda conn: _insert(conn, name, row, payload))
        except Exception as exc:
            self._logging_failed(exc)
            return None

    def log_reset(self, conversation: str, at: float | None = None) -> bool:
        """Mark that ``conversation`` restarted at ``at`` (now): restoring it continues from
        here. Only marked when a turn was logged since its last mark; True when marked. Never
        raises (a failure is one note and turns logging off, as in `log_turn`)."""
        if not self.logging_enabled:
            return False
        name = redact(conversation or "default")[0]
        when = time.time() if at is None else float(at)
        try:
            return bool(self._write(
                lambda conn: conn.execute(_MARK_RESET, {"at": when, "name": name}).rowcount))
        except Exception as exc:
            self._logging_failed(exc)
            return False

    def _logging_failed(self, exc: Exception) -> None:
        self.logging_enabled = False
        reason = str(exc) if isinstance(exc, HistoryError) else \
            f"history database {self.path}: {_reason(exc)}"
        with self._lock:
            self._notes.append(f"history logging is off for this session ({reason})")

    # --- reading ----------------------------------------------------------------------------
    def conversation(self, name: str, *, limit: int | None = None,
                     since_reset: bool = False) -> list[StoredTurn]:
        """The turns of conversation ``name`` in the order asked, with messages, steps and specs
        (the newest ``limit`` when given; with ``since_reset``, only those asked since its last
        reset: what a restored conversation continues from)."""
        sql = (f"SELECT {SELECT_COLUMNS}{SELECT_PAYLOAD} {_FROM} "
               "LEFT JOIN turn_payloads p ON p.turn_id = t.id WHERE c.name = ?"
               f"{_SINCE_RESET if since_reset else ''} ORDER BY t.asked_at DESC, t.id DESC")
        params: list[Any] = [name]  # asked order: a compare's answers end (and log) in any order
        if limit is not None:
            sql += " LIMIT ?"
            params.append(_limit(limit))
        rows = self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [stored_turn(r, payload=True) for r in reversed(rows)]

    def export(self, name: str) -> list[dict[str, Any]]:
        """Conversation ``name`` as records (`Conversation.to_records` shape plus the composed
        messages, steps, specs, cost and notes)."""
        return [t.to_record() for t in self.conversation(name)]

    def conversations(self) -> list[tuple[str, int, float]]:
        """(name, turns, last asked_at) of every logged conversation, most recent first."""
        sql = (f"SELECT c.name, count(t.id), max(t.asked_at) {_FROM} GROUP BY c.id "
               "ORDER BY max(t.asked_at) DESC")
        return self._read(lambda conn: [tuple(r) for r in conn.execute(sql)])

    def search(self, text: str | None = None, *, endpoint: str | None = None,
               since: q.When | None = None, until: q.When | None = None,
               conversation: str | None = None, limit: int = 20) -> list[StoredTurn]:
        """The newest turns (in log order) matching all of: ``text`` (every word in question or
        answer), ``endpoint``, asked at or after ``since`` / before ``until`` (dates, times or
        ages like "7d"), ``conversation``. Without messages/steps/specs."""
        where, params = q.filters(endpoint=endpoint, since=q.epoch(since),
                                  until=q.epoch(until, "until"), conversation=conversation)
        match = None
        if text is not None and text.strip():
            if len(text) > 1000:
                raise ConfigError("search text is too long (at most 1,000 characters)")
            match = q.fts_query(text) if self.full_text else None
            if match is not None:
                where.insert(0, "turns_fts MATCH ?")
                params.insert(0, match)
            else:
                clause, more = q.like_filter(text)
                where.append(clause)
                params += more
        sql = _search_sql(where, fts=match is not None)
        params.append(_limit(limit))
        return [stored_turn(r) for r in self._read(lambda c: c.execute(sql, params).fetchall())]

    def stats(self, by: str = "endpoint", *, since: q.When | None = None,
              endpoint: str | None = None, conversation: str | None = None) -> list[q.StatsRow]:
        """Per endpoint (or local day): count, failed, p50/p95 first token and total time,
        median tokens/s, summed tokens and cost. Sorted by key."""
        where, params = q.filters(endpoint=endpoint, since=q.epoch(since), until=None,
                                  conversation=conversation)
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        sums_sql = q.sums_sql(by, cond, since=since is not None)

        def run(conn: sqlite3.Connection) -> list[q.StatsRow]:
            sums = conn.execute(sums_sql, params).fetchall()
            if sum(row[1] for row in sums) <= q.FETCH_AT_MOST:
                times = q.times_sql(by, cond, since=since is not None)
                value = q.in_memory(conn.execute(times, params).fetchall())
            else:
                def value(key: str, timing: str, descending: bool, offset: int) -> float | None:
                    sql = q.pick_sql(by, timing, where, descending)
                    found = conn.execute(sql, [key, *params, offset]).fetchone()
                    return None if found is None else found[0]
            return [q.stats_row(row, value) for row in sums]
        return self._read(run)

    def resets(self, conversation: str | None = None, *, since: q.When | None = None,
               until: q.When | None = None) -> list[tuple[str, float]]:
        """(conversation, time) of each logged reset, oldest first, filtered like `search`."""
        where, params = ["1"], []
        for clause, value in (("c.name = ?", conversation), ("r.at >= ?", q.epoch(since)),
                              ("r.at < ?", q.epoch(until, "until"))):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = ("SELECT c.name, r.at FROM resets r JOIN conversations c ON c.id = r.conversation_id"
               f" WHERE {' AND '.join(where)} ORDER BY r.at, r.id")
        return self._read(lambda conn: [(str(n), float(a)) for n, a in conn.execute(sql, params)])

    def count(self) -> int:
        """How many turns are logged."""
        return int(self._read(lambda c: c.execute("SELECT count(*) FROM turns").fetchone()[0]))

    # --- forgetting -------------------------------------------------------------------------
    def forget(self, *, conversation: str | None = None, before: q.When | None = None,
               ids: Iterable[int] | None = None) -> int:
        """Delete the turns matching all the criteria given (at least one); returns how many.
        Deleted text is overwritten on disk (``secure_delete``), the full-text index merged and
        the WAL checkpointed, so it does not linger in the files."""
        id_list = None if ids is None else [int(i) for i in ids]
        if conversation is None and before is None and id_list is None:
            raise ConfigError("forget needs conversation=, before= or ids= (nothing deleted)")
        where: list[str] = []
        params: list[Any] = []
        if before is not None:
            where.append("asked_at < ?")
            params.append(q.epoch(before, "before"))
        if conversation is not None:
            where.append("conversation_id IN (SELECT id FROM conversations WHERE name = ?)")
            params.append(conversation)
        if id_list is not None:
            where.append(f"id IN ({', '.join('?' * len(id_list)) or 'NULL'})")
            params += id_list
        sql = "DELETE FROM turns WHERE " + " AND ".join(where)
        # resets before the date (or of the conversation) go with its turns; never by ids
        reset_sql = None if id_list is not None else \
            "DELETE FROM resets WHERE " + " AND ".join(w.replace("asked_at", "at") for w in where)

        def run(conn: sqlite3.Connection) -> int:
            deleted = conn.execute(sql, params).rowcount
            if reset_sql is not None:
                conn.execute(reset_sql, params)
            conn.execute("DELETE FROM conversations WHERE id NOT IN "
                         "(SELECT DISTINCT conversation_id FROM turns)")
            if deleted and self._fts and not _FTS_SECURE_DELETE:
                conn.execute("INSERT INTO turns_fts(turns_fts) VALUES ('optimize')")
            return deleted
        deleted = self._write(run)
        if deleted:
            self._read(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
        return deleted


def _insert(conn: sqlite3.Connection, name: str, row: tuple[Any, ...],
            payload: tuple[Any, ...] | None) -> int:
    conn.execute("INSERT OR IGNORE INTO conversations (name, created_at) VALUES (?, ?)",
                 (name, time.time()))
    turn_id = int(conn.execute(_INSERT, (name, row[0], *row)).lastrowid or 0)
    if payload is not None:
        conn.execute(_INSERT_PAYLOAD, (turn_id, *payload))
    return turn_id


def _search_sql(where: list[str], *, fts: bool) -> str:
    """The newest matching ids first (up to the LIMIT parameter), then their rows: the rows'
    texts are read for those ids only, never for every match."""
    if fts and len(where) == 1:  # the index alone, newest first, to the limit
        ids = "SELECT rowid AS id FROM turns_fts WHERE turns_fts MATCH ? ORDER BY rowid DESC"
    elif fts:  # the index leads, newest first, and stops at the limit
        ids = ("SELECT t.id FROM turns_fts f CROSS JOIN turns t ON t.id = f.rowid WHERE "
               f"{' AND '.join(where)} ORDER BY f.rowid DESC")
    else:
        ids = f"SELECT t.id FROM turns t{' WHERE ' if where else ''}{' AND '.join(where)} " \
              "ORDER BY t.id DESC"
    return (f"SELECT {SELECT_COLUMNS} FROM ({ids} LIMIT ?) m CROSS JOIN turns t ON t.id = m.id "
            "CROSS JOIN conversations c ON c.id = t.conversation_id ORDER BY t.id DESC")


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"limit must be a whole number from 1 to {MAX_LIMIT:,} (got {limit!r})")
    return limit


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return redact(text.splitlines()[0][:200])[0]
