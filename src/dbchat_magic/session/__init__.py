"""One question's journey above the client: what a question is (`AskOptions`, `PreparedAsk`,
`AskHandle`), the pipeline that runs it (`Session`: compose → stream on the runner loop → specs →
record the turn), the spec pass (`LiveSpecs` while streaming, `apply_specs` at the end) and the
chart renderer's warm-up.

Names load on first use, so ``%load_ext`` (which needs only the warm-up) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "AskOptions": "dbchat_magic.session._ask",
    "PreparedAsk": "dbchat_magic.session._ask",
    "AskHandle": "dbchat_magic.session._ask",
    "Session": "dbchat_magic.session._pipeline",
    "get_session": "dbchat_magic.session._pipeline",
    "LiveSpecs": "dbchat_magic.session._specs",
    "apply_specs": "dbchat_magic.session._specs",
    "renderer_name": "dbchat_magic.session._warm_up",
    "warm_up_renderer": "dbchat_magic.session._warm_up",
    "warm_up_at_load": "dbchat_magic.session._warm_up",
    "stop_warm_up": "dbchat_magic.session._warm_up",
    "history_store": "dbchat_magic.session._turn_log",
    "CompareResult": "dbchat_magic.session._compare",
    "CompareRun": "dbchat_magic.session._compare",
    "parse_targets": "dbchat_magic.session._compare",
    "prepare_compare": "dbchat_magic.session._compare",
    "start_compare": "dbchat_magic.session._compare",
    "targets_ok": "dbchat_magic.session._compare",
    "MAX_TARGETS": "dbchat_magic.session._compare",
    "price_table": "dbchat_magic.session._turn_log",
}

__all__ = [
    "MAX_TARGETS", "AskHandle", "AskOptions", "CompareResult", "CompareRun", "LiveSpecs",
    "PreparedAsk", "Session", "apply_specs",
    "get_session", "history_store", "parse_targets", "prepare_compare", "price_table",
    "renderer_name", "start_compare", "stop_warm_up", "targets_ok",
    "warm_up_at_load", "warm_up_renderer",
]

if TYPE_CHECKING:
    from dbchat_magic.session._ask import AskHandle, AskOptions, PreparedAsk
    from dbchat_magic.session._compare import (
        MAX_TARGETS,
        CompareResult,
        CompareRun,
        parse_targets,
        prepare_compare,
        start_compare,
        targets_ok,
    )
    from dbchat_magic.session._pipeline import Session, get_session
    from dbchat_magic.session._specs import LiveSpecs, apply_specs
    from dbchat_magic.session._turn_log import history_store, price_table
    from dbchat_magic.session._warm_up import (
        renderer_name,
        stop_warm_up,
        warm_up_at_load,
        warm_up_renderer,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dbchat_magic.session' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
