"""Notebook front end: the live answer view, its plain-text fallback, and the chat panel.

ipywidgets is imported only when a widget is built, so ``import dbchat_magic.ui`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "make_answer_view": "dbchat_magic.ui._answer_view",
    "AnswerView": "dbchat_magic.ui._answer_view",
    "StopMode": "dbchat_magic.ui._answer_view",
    "WidgetAnswerView": "dbchat_magic.ui._answer_view",
    "TextAnswerView": "dbchat_magic.ui._text_view",
    "format_metrics": "dbchat_magic.ui._metrics_format",
    "OutcomeLine": "dbchat_magic.ui._settled",
    "outcome": "dbchat_magic.ui._outcome",
    "settled_outputs": "dbchat_magic.ui._settled",
    "format_status": "dbchat_magic.ui._metrics_format",
    "explain_error": "dbchat_magic.ui._error_hints",
    "ChatPanel": "dbchat_magic.ui._panel",
    "CompareView": "dbchat_magic.ui._compare_view",
    "ipykernel_version": "dbchat_magic.ui._environment",
    "widgets_choice": "dbchat_magic.ui._environment",
    "DisplayAnswerView": "dbchat_magic.ui._display_view",
    "live_widgets": "dbchat_magic.ui._widget_lifetime",
    "open_comms": "dbchat_magic.ui._widget_lifetime",
}

__all__ = [
    "AnswerView", "ChatPanel", "CompareView", "DisplayAnswerView", "OutcomeLine", "StopMode",
    "TextAnswerView", "WidgetAnswerView", "explain_error",
    "format_metrics", "format_status", "ipykernel_version", "live_widgets", "make_answer_view",
    "open_comms", "outcome", "settled_outputs", "widgets_choice",
]

if TYPE_CHECKING:
    from dbchat_magic.ui._answer_view import (
        AnswerView,
        StopMode,
        WidgetAnswerView,
        make_answer_view,
    )
    from dbchat_magic.ui._compare_view import CompareView
    from dbchat_magic.ui._display_view import DisplayAnswerView
    from dbchat_magic.ui._environment import ipykernel_version, widgets_choice
    from dbchat_magic.ui._error_hints import explain_error
    from dbchat_magic.ui._metrics_format import format_metrics, format_status
    from dbchat_magic.ui._outcome import outcome
    from dbchat_magic.ui._panel import ChatPanel
    from dbchat_magic.ui._settled import OutcomeLine, settled_outputs
    from dbchat_magic.ui._text_view import TextAnswerView
    from dbchat_magic.ui._widget_lifetime import live_widgets, open_comms


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dbchat_magic.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
