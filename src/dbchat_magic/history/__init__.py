"""A history that survives restarts: every turn in an embedded SQLite log (WAL, several kernels
at once, schema migrations in code, FTS5 search), never a credential.

>>> store = HistoryStore(history_location()[0])                      # doctest: +SKIP
>>> store.log_turn(TurnRecord.from_result(question, result, conversation="sales",
...                                       messages=prepared.messages, cost=cost))  # doctest: +SKIP
>>> store.search("revenue", endpoint="databricks-claude-3-7-sonnet", since="7d")  # doctest: +SKIP
>>> store.stats(by="day")                                              # doctest: +SKIP
"""

from dbchat_magic.history._location import FILE_NAME, history_location
from dbchat_magic.history._query import STATS_BY, StatsRow, fts_query
from dbchat_magic.history._record import StoredTurn, TurnRecord
from dbchat_magic.history._schema import LATEST as SCHEMA_VERSION
from dbchat_magic.history._schema import HistoryError, fts5_available
from dbchat_magic.history._store import HistoryStore

__all__ = [
    "FILE_NAME",
    "SCHEMA_VERSION",
    "STATS_BY",
    "HistoryError",
    "HistoryStore",
    "StatsRow",
    "StoredTurn",
    "TurnRecord",
    "fts5_available",
    "fts_query",
    "history_location",
]
