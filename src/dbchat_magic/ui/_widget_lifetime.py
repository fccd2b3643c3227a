"""Widget lifetime: close a view's whole widget tree, and count the widgets a kernel keeps open.

ipywidgets keeps every widget in a registry (and its comm in the kernel's comm manager) until
``close()`` is called; garbage collection never closes one. A tree is more than its ``children``:
every widget's ``layout`` — and on ipywidgets 8 the ``style`` of Button, HTML, Label… — is a widget
with its own comm, so `close_tree` walks every widget-valued synced trait.

The registry's home differs between the supported ipywidgets versions; `live_widgets` is the one
place that knows it (feature-detected, not version-compared).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def live_widgets() -> Mapping[str, Any]:
    """The open widgets of this process (model id → widget), read without warnings."""
    from ipywidgets.widgets import widget as module

    registry = getattr(module, "_instances", None)  # ipywidgets 8.x: a module-level dict
    if registry is None:  # ipywidgets 7.x (7.8.1 on Databricks): the class attribute
        registry = vars(module.Widget)["widgets"]  # vars(): 8.x would warn on Widget.widgets
    return registry


def open_comms() -> int:
    """How many comms the kernel's comm manager holds open (0 outside a kernel)."""
    try:
        from comm import get_comm_manager
    except ImportError:  # pragma: no cover - comm ships with ipykernel ≥ 6.22 and ipywidgets 8
        return 0
    comms = getattr(get_comm_manager(), "comms", None)
    return len(comms) if isinstance(comms, Mapping) else 0


def _referenced(widget: Any) -> Iterator[Any]:
    """Widgets held in ``widget``'s synced traits (children, layout, style, titles' widgets…)."""
    from ipywidgets import Widget

    for name in getattr(widget, "keys", ()) or ():
        value = getattr(widget, name, None)
        if isinstance(value, Widget):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (item for item in value if isinstance(item, Widget))


def tree(root: Any) -> list[Any]:
    """``root`` and every widget reachable through synced traits, each once, leaves first."""
    seen: set[int] = set()
    order: list[Any] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        widget, expanded = stack.pop()
        if expanded:
            order.append(widget)
            continue
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        stack.append((widget, True))
        stack.extend((child, False) for child in _referenced(widget) if id(child) not in seen)
    return order


def close_tree(root: Any) -> int:
    """Close ``root`` and everything it refers to (leaves first); returns how many were open."""
    closed = 0
    for widget in tree(root):
        if getattr(widget, "comm", None) is not None:
            closed += 1
        widget.close()  # a no-op for a widget that is already closed
    return closed
