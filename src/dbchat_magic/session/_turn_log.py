"""After an answer: its cost (the ``prices`` table), the turn in the history log, a reset
(``%dbchat reset``, ``--new``) marked in that log, and a named conversation restored from it after
a kernel restart, continuing from its last reset.

Logging never breaks an answer: a failing log becomes one note (`HistoryStore.log_turn`) and stays
off for the session; the store is opened once per path and kept.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dbchat_magic.errors import DbChatError
from dbchat_magic.history import HistoryStore, TurnRecord, history_location
from dbchat_magic.pricing import Cost, PriceTable, parse_prices

if TYPE_CHECKING:
    from dbchat_magic.config import Settings
    from dbchat_magic.conversation import Conversation
    from dbchat_magic.result import ChatResult
    from dbchat_magic.session._ask import PreparedAsk

COMPARE_NOTE = "asked with --compare (not part of the conversation)"
RESTORE_TURNS = 50  # the newest logged turns a restored conversation starts with
_KEEP_OPEN = 4  # stores kept open (a changed history_path closes the oldest)
_stores: dict[Path, HistoryStore] = {}
_lock = threading.Lock()


def price_table(settings: Settings) -> PriceTable:
    """The user's ``prices`` in front of the shipped defaults."""
    return parse_prices(settings.prices)


def cost_of(settings: Settings, result: ChatResult) -> Cost | None:
    """What ``result`` cost at the settings' prices (None when no price is known)."""
    try:
        return price_table(settings).cost(result.usage, result.endpoint)
    except DbChatError:  # settings are validated on load; a bad table shows no cost, never fails
        return None


def history_store(settings: Settings) -> HistoryStore | None:
    """The history log the settings point at (None when ``history_log`` is off)."""
    if not settings.history_log:
        return None
    path, note = history_location(settings.history_path or None)
    with _lock:
        store = _stores.get(path)
        if store is None:
            while len(_stores) >= _KEEP_OPEN:
                _stores.pop(next(iter(_stores))).close()
            store = _stores[path] = HistoryStore(path)
            if note:
                store.add_note(note)  # shown once, with the first answer
        return store


def log_turn(prepared: PreparedAsk, result: ChatResult, conversation: str) -> list[str]:
    """Log one finished turn; returns the notes to show (at most once each)."""
    store = history_store(prepared.settings)
    if store is None:
        return []
    cost = result.extras.get("cost")
    record = TurnRecord.from_result(
        prepared.question, result, conversation=conversation, messages=prepared.messages,
        cost=cost if isinstance(cost, Cost) else None)
    if not prepared.options.record:
        record.notes = [*record.notes, COMPARE_NOTE]
    store.log_turn(record)
    return store.take_notes()


def log_reset(settings: Settings, conversation: str) -> list[str]:
    """Mark in the log that ``conversation`` starts afresh now; returns the notes to show."""
    store = history_store(settings)
    if store is None:
        return []
    store.log_reset(conversation)
    return store.take_notes()


def restore(conversation: Conversation, settings: Settings) -> list[str]:
    """Fill an empty ``conversation`` with its newest logged turns since its last reset; returns
    notes (a log that cannot be read is a note, never an error: the chat simply starts empty)."""
    store = history_store(settings)
    if store is None or len(conversation):
        return []
    try:
        turns = store.conversation(conversation.name, limit=RESTORE_TURNS, since_reset=True)
    except DbChatError as err:
        return [f"conversation {conversation.name!r} was not restored from the log ({err})"]
    for turn in turns:
        if COMPARE_NOTE in turn.notes:
            continue
        result = turn.to_result()
        result.extras["from_log"] = True  # a view may say these came back from the log
        if turn.cost is not None:
            result.extras["cost"] = turn.cost
        if turn.specs:  # their kinds only: the log keeps no drawings
            result.extras["logged_specs"] = [str(s.get("kind", "")) for s in turn.specs
                                             if isinstance(s, dict)]
        conversation.add(turn.question, result, sent_question=turn.sent_question)
    return store.take_notes()
