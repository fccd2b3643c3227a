"""Can a Stop button be clicked while a blocking `%%dbchat` cell runs? (docs/design.md: Stop)

A kernel handles a widget click during a running cell only on ipykernel ≥ 7.4, and only when the
cell runs as top-level ``await`` (comm messages are dispatched while an async cell awaits). The
input transformer in `dbchat_magic.magic.async_cell` turns a blocking ``%%dbchat`` cell into such
an awaited call where that is supported; everywhere else the view shows "press ■ to stop" instead
of a button that could never be delivered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dbchat_magic import ui

if TYPE_CHECKING:
    from dbchat_magic.ui import StopMode

MIN_IPYKERNEL = (7, 4)


def ipykernel_version() -> tuple[int, ...] | None:
    """The installed ipykernel version as ints, or None."""
    return ui.ipykernel_version()


def async_clicks_supported(shell: Any) -> bool:
    """True when an awaiting cell lets the kernel deliver comm messages (ipykernel ≥ 7.4 kernel,
    IPython autoawait on, asyncio loop runner)."""
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    version = ipykernel_version()
    if version is None or version < MIN_IPYKERNEL:
        return False
    if not getattr(shell, "autoawait", False):
        return False
    runner = getattr(shell, "loop_runner", None)
    name = getattr(runner, "__name__", "") or type(runner).__name__
    return "asyncio" in name.lower() or runner is None


def stop_mode(*, background: bool, awaited: bool) -> StopMode:
    """The Stop control a view should show: a button when a click can arrive, else the ■ hint.

    ``background`` cells return at once (the kernel is idle, clicks always arrive); ``awaited`` is
    True when the cell runs through the async route on a kernel that dispatches comms meanwhile.
    """
    return "button" if background or awaited else "hint"
