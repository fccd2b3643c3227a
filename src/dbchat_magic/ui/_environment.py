"""Feature detection: are we in a kernel that can show widgets, and which ipywidgets/ipykernel?"""

from __future__ import annotations

import os
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
    """True in a Databricks runtime (its notebook front end shows ipywidgets 7 and 8)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def ipywidgets7_note() -> str:
    """Why an ipywidgets 7 kernel gets plain outputs, and what to install."""
    version = ".".join(map(str, ipywidgets_version() or (7,)))
    return (f"note: live widgets are off: this kernel has ipywidgets {version}, whose widgets "
            "JupyterLab 4 and Notebook 7 cannot show. Answers stream as "
            "plain outputs instead; press ■ to stop one. For the Stop button and the chat panel "
            "run %pip install \"ipywidgets>=8\" in this kernel and restart it; on JupyterLab 3 or "
            "Notebook 6 set the setting widgets to \"on\".")


def widgets_choice(setting: str = "auto") -> tuple[bool, str | None]:
    """Use widgets for live views? And, when not, a note saying why (None: nothing to say).

    ``setting`` is `Settings.widgets`: "on" (whenever ipywidgets is importable in a kernel),
    "off", or "auto": ipywidgets 8, or 7 on Databricks. An ipywidgets 7 kernel elsewhere is most
    likely shown by JupyterLab 4 / Notebook 7, whose widget manager cannot render it; the kernel
    cannot ask the front end, so it does not risk a JavaScript error box.
    """
    major = ipywidgets_major()
    if not in_kernel() or setting == "off" or major is None or major < 7:
        return False, None
    if setting == "on" or major >= 8 or on_databricks():
        return True, None
    return False, ipywidgets7_note()


def describe() -> dict[str, Any]:
    """A small report of the detected environment (for `%dbchat config` and bug reports)."""
    return {
        "in_kernel": in_kernel(),
        "ipywidgets": ".".join(map(str, ipywidgets_version() or ())) or None,
        "ipykernel": ".".join(map(str, ipykernel_version() or ())) or None,
        "widgets_usable": widgets_usable(),
        "widgets_auto": widgets_choice()[0],
    }
