"""dbchat-magic: talk to Databricks Model Serving from a notebook.

``%load_ext dbchat_magic`` registers ``%%dbchat`` and ``%dbchat``. Heavy modules (httpx, pandas,
ipywidgets, altair) are imported on first use so that loading the extension stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "ChatClient": "dbchat_magic.client",
    "ChatResult": "dbchat_magic.result",
    "Usage": "dbchat_magic.result",
    "Metrics": "dbchat_magic.result",
    "Settings": "dbchat_magic.config",
    "ChatPanel": "dbchat_magic.ui",
    "Conversation": "dbchat_magic.conversation",
    "DbChatError": "dbchat_magic.errors",
}

__all__ = [
    "ChatClient",
    "ChatPanel",
    "ChatResult",
    "Conversation",
    "DbChatError",
    "Metrics",
    "Settings",
    "Usage",
    "load_ipython_extension",
    "unload_ipython_extension",
]

if TYPE_CHECKING:
    from dbchat_magic.client import ChatClient
    from dbchat_magic.config import Settings
    from dbchat_magic.conversation import Conversation
    from dbchat_magic.errors import DbChatError
    from dbchat_magic.result import ChatResult, Metrics, Usage
    from dbchat_magic.ui import ChatPanel


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dbchat_magic' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%dbchat`` / ``%dbchat`` (called by ``%load_ext dbchat_magic``)."""
    from dbchat_magic.magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Undo `load_ipython_extension`."""
    from dbchat_magic.magic import unload_ipython_extension as _unload

    _unload(ipython)
