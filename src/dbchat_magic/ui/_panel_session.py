"""Which session a ChatPanel chats in, and what it says once when it opens: a named conversation
new in this kernel (e.g. after a restart) comes back from the history log — `Session.restore`, the
same restore as ``%%dbchat -c NAME`` — and the panel says how many turns came back, or that
logging is off so a restart starts it empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from dbchat_magic.errors import DbChatError
from dbchat_magic.ui._panel_turn import PanelCompareTurn, PanelTurn

if TYPE_CHECKING:
    from dbchat_magic.config import Settings
    from dbchat_magic.session import Session

_panel_numbers = itertools.count(1)


def session_for(conversation: str | None, settings: Callable[[], Settings] | None) -> Session:
    """A session on the named conversation (kept in the kernel's store; new in this kernel, it
    is restored from the history log as ``-c NAME`` does), else a fresh one."""
    from dbchat_magic.conversation import Conversation, get_conversation
    from dbchat_magic.session import Session

    if conversation:
        session = Session(get_conversation(conversation), settings)
        session.notes += session.restore()
        return session
    return Session(Conversation(f"panel-{next(_panel_numbers)}"), settings)


def opening_note(session: Session, turns: Sequence[PanelTurn | PanelCompareTurn], *,
                 named: bool) -> str:
    """What the panel says once when it opens: the session's notes (the log could not be read),
    how many turns came back from the history log, or that logging is off (then a restart
    starts a named conversation empty)."""
    from dbchat_magic.conversation import DEFAULT_NAME

    notes, session.notes = list(session.notes), []
    restored = [t for t in turns if isinstance(t, PanelTurn) and t.result is not None
                and t.result.extras.get("from_log")]
    if restored:
        charts = any(t.result.extras.get("logged_specs") for t in restored if t.result)
        notes.append(f"{len(restored)} earlier turn{'' if len(restored) == 1 else 's'} of "
                     f"{session.conversation.name!r} restored from the history log"
                     + (" (charts are not kept there: ask again to draw them)" if charts else ""))
    elif (named and not turns and session.conversation.name != DEFAULT_NAME
          and not _logging_on(session)):
        notes.append(f"history logging is off (setting history_log): {session.conversation.name!r}"
                     " starts empty after a kernel restart")
    return " · ".join(notes)


def _logging_on(session: Session) -> bool:
    try:
        return bool(session.settings().history_log)
    except DbChatError:
        return True  # a broken settings file says so itself when asking
