"""Feature detection: are we in a kernel that can show widgets, and which ipywidgets/ipykernel?"""

from __future__ import annotations

import sys
from functools import cache
from importlib import metadata
from typing import Any


def _version_tuple(dist: str) -> tuple[int, ...] | None:
    """The installed version of ``dist`` as a tuple of ints (e.g. (8, 1, 9)), or None if absent."""
    try:
        raw = metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
    parts: list[int] = []
    for piece in raw.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if digits != piece:
            break
    return tuple(parts) or None


@cache
def ipywidgets_version() -> tuple[int, ...] | None:
    """Installed ipywidgets version, or None when ipywidgets is not installed."""
    return _version_tuple("ipywidgets")


def ipywidgets_major() -> int | None:
    """7 or 8 (or whatever is installed), None without ipywidgets."""
    version = ipywidgets_version()
    return version[0] if version else None


@cache
def ipykernel_version() -> tuple[int, ...] | None:
    """Installed ipykernel version, or None."""
    return _version_tuple("ipykernel")


def shell() -> Any:
    """The running IPython shell, or None (without importing IPython when it is not loaded)."""
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return None
    get_ipython = getattr(ipython_mod, "get_ipython", None)
    return get_ipython() if get_ipython else None


def in_kernel() -> bool:
    """True inside a Jupyter kernel; False in terminal IPython or plain Python."""
    current = shell()
    return current is not None and getattr(current, "kernel", None) is not None


def widgets_usable() -> bool:
    """True when widgets can render: a kernel with comms and an importable ipywidgets 7 or 8."""
    return in_kernel() and (ipywidgets_major() or 0) >= 7


def on_databricks() -> bool:
    """True in a Databricks notebook (its runtime sets ``DATABRICKS_RUNTIME_VERSION``)."""
    import os

    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))


def describe() -> dict[str, Any]:
    """A small report of the detected environment (for `%dbchat config` and bug reports)."""
    return {
        "in_kernel": in_kernel(),
        "ipywidgets": ".".join(map(str, ipywidgets_version() or ())) or None,
        "ipykernel": ".".join(map(str, ipykernel_version() or ())) or None,
        "widgets_usable": widgets_usable(),
    }
