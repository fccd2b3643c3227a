"""The panel's transcript as a plain output: what a saved notebook shows without widget state.

The panel displays it right below its widget (with a display id, updated per turn), so a saved
notebook holds the conversation — questions, answers, charts as images, metrics — as ordinary
text/html + text/plain. While the live panel renders, CSS in the transcript hides it (and, once
the widget is gone, hides the widget's "model not found" placeholder instead). Outside text reaches
the HTML only through the markup layer and the settled outputs built on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dbchat_magic.markup import clean_text, escape
from dbchat_magic.result import ChatResult
from dbchat_magic.ui._compare_view import SettledColumns
from dbchat_magic.ui._panel_style import TRANSCRIPT_CSS
from dbchat_magic.ui._settled import settled_outputs

if TYPE_CHECKING:
    from dbchat_magic.session import CompareResult

MAX_TRANSCRIPT_TURNS = 200
"""The newest turns kept in the transcript output (older ones are counted, not shown)."""
PENDING = "… answering"


@dataclass(frozen=True)
class TranscriptTurn:
    """One question, the endpoint asked, and its result (None while it is being answered); a
    compare turn has ``compare`` instead (the answers side by side and their table)."""

    question: str
    endpoint: str
    result: ChatResult | None
    compare: CompareResult | None = None


def _assistant_html(turn: TranscriptTurn) -> str:
    if turn.compare is not None:
        body = SettledColumns(list(turn.compare)).markup + turn.compare._repr_html_()
    elif turn.result is None:
        body = f"<small>{escape(PENDING)}</small>"
    else:
        body = "".join(f"<div>{item.as_html()}</div>" for item in settled_outputs(turn.result))
    return (f'<div class="dbchat-bubble dbchat-assistant"><div class="dbchat-role"><b>'
            f"{escape(turn.endpoint)}</b></div>{body}</div>")


def _assistant_text(turn: TranscriptTurn) -> str:
    if turn.compare is not None:
        return f"{SettledColumns(list(turn.compare)).text}\n{turn.compare.table_text()}"
    if turn.result is None:
        return PENDING
    return "\n".join(repr(item) for item in settled_outputs(turn.result))


def transcript_html(turns: Sequence[TranscriptTurn], title: str) -> str:
    """The conversation as HTML bubbles (sanitized answers, charts as images, metrics)."""
    shown = turns[-MAX_TRANSCRIPT_TURNS:]
    parts = [f'<div class="dbchat-transcript"><style>{TRANSCRIPT_CSS}</style>',
             f'<div class="dbchat-role">{escape(_heading(turns, title))}</div>']
    for turn in shown:
        parts.append(f'<div class="dbchat-bubble dbchat-user"><div class="dbchat-role"><b>You'
                     f'</b></div><div class="dbchat-text">{escape(turn.question)}</div></div>')
        parts.append(_assistant_html(turn))
    parts.append("</div>")
    return "".join(parts)


def transcript_text(turns: Sequence[TranscriptTurn], title: str) -> str:
    """The conversation as plain text: ``You: …`` then ``<endpoint>: …`` per turn."""
    lines = [_heading(turns, title)]
    for turn in turns[-MAX_TRANSCRIPT_TURNS:]:
        lines.append(f"You: {turn.question}")
        lines.append(f"{turn.endpoint}: {_assistant_text(turn)}")
    return clean_text("\n".join(lines))


def _heading(turns: Sequence[TranscriptTurn], title: str) -> str:
    count = len(turns)
    heading = f"{title} · {count} question{'' if count == 1 else 's'}"
    hidden = count - MAX_TRANSCRIPT_TURNS
    return heading + (f" ({hidden} earlier not kept here)" if hidden > 0 else "")


def transcript_bundle(turns: Sequence[TranscriptTurn], title: str) -> dict[str, Any]:
    """The transcript's display bundle (text/html + text/plain)."""
    return {"text/html": transcript_html(turns, title),
            "text/plain": transcript_text(turns, title)}
