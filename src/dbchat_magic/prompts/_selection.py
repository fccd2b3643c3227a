"""Which frames go into the data context: explicit ``-d`` names, or the most recently touched.

"Recently touched" ranks frames by (1) the latest input cell that mentions the variable's name in
IPython's input history (``_ih`` / ``In`` in the namespace), then (2) when this module first saw the
variable bound to its current object (a re-assigned frame counts as new), then (3) the order of
definition in the namespace. Private names (``_x``) are never picked automatically.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dbchat_magic.errors import ConfigError
from dbchat_magic.prompts._context import frame_kind

HISTORY_CELLS = 300  # how far back the input history is searched
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FrameNotFound(ConfigError):
    """A ``-d`` name is not a DataFrame in the namespace; the message lists those that are."""


def is_frame(obj: Any) -> bool:
    """True for pandas/polars DataFrames and Series, polars LazyFrames and Spark DataFrames."""
    return frame_kind(obj) is not None


def frame_names(namespace: Mapping[str, Any], *, private: bool = False) -> list[str]:
    """Names bound to frames, in namespace order (private ``_x`` names only if asked)."""
    names = []
    for name, obj in list(namespace.items()):
        if not isinstance(name, str) or (name.startswith("_") and not private):
            continue
        if is_frame(obj):
            names.append(name)
    return names


def parse_names(names: str | Iterable[str]) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` → ``["a", "b"]`` (blanks and repeats dropped)."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in items:
        name = str(item).strip()
        if name and name not in out:
            out.append(name)
    return out


def resolve_explicit(namespace: Mapping[str, Any], names: str | Iterable[str]) -> list[str]:
    """Check explicit names; raise `FrameNotFound` naming the frames that do exist."""
    wanted = parse_names(names)
    for name in wanted:
        if name in namespace and is_frame(namespace[name]):
            continue
        existing = frame_names(namespace)
        listing = ", ".join(existing[:30]) + (", …" if len(existing) > 30 else "")
        have = f"DataFrames in the namespace: {listing}." if existing else \
            "There are no DataFrames in the namespace."
        if name in namespace:
            raise FrameNotFound(f"'{name}' is not a DataFrame (it is a "
                                f"{_type_name(namespace[name])}). {have}")
        raise FrameNotFound(f"No DataFrame named '{name}'. {have}")
    return wanted


def _type_name(obj: Any) -> str:
    """``int`` for builtins, ``module.Class`` otherwise (so look-alike classes are told apart)."""
    cls = type(obj)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class FrameTracker:
    """Remembers when each name was first seen bound to its current object."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int]] = {}
        self._clock = 0
        self._lock = threading.Lock()

    def observe(self, namespace: Mapping[str, Any], names: Sequence[str]) -> dict[str, int]:
        """Sequence numbers for ``names``: larger means bound to its object more recently."""
        with self._lock:
            stamps: dict[str, int] = {}
            for name in names:
                ident = id(namespace[name])
                seen = self._seen.get(name)
                if seen is None or seen[0] != ident:
                    self._clock += 1
                    seen = (ident, self._clock)
                    self._seen[name] = seen
                stamps[name] = seen[1]
            return stamps


_TRACKER = FrameTracker()


def _history(namespace: Mapping[str, Any]) -> Sequence[str]:
    hist = namespace.get("_ih", namespace.get("In"))
    if isinstance(hist, list | tuple):
        return hist
    return ()


def last_mentions(namespace: Mapping[str, Any], names: Iterable[str]) -> dict[str, int]:
    """For each name, the index of the latest input cell that mentions it (absent if none)."""
    wanted = set(names)
    found: dict[str, int] = {}
    hist = _history(namespace)
    start = len(hist) - 1
    for i in range(start, max(start - HISTORY_CELLS, -1), -1):
        cell = hist[i]
        if not isinstance(cell, str):
            continue
        for ident in set(_IDENT.findall(cell)) & wanted:
            found[ident] = i
        wanted -= found.keys()
        if not wanted:
            break
    return found


def rank_frames(namespace: Mapping[str, Any], tracker: FrameTracker | None = None) -> list[str]:
    """Public frame names, most recently touched first; one name per object."""
    names = frame_names(namespace)
    mentions = last_mentions(namespace, names)
    stamps = (tracker or _TRACKER).observe(namespace, names)
    order = {name: i for i, name in enumerate(names)}
    ranked = sorted(names, key=lambda n: (mentions.get(n, -1), stamps[n], order[n]), reverse=True)
    seen: set[int] = set()
    unique = []
    for name in ranked:  # an alias of a frame already chosen adds nothing
        if id(namespace[name]) not in seen:
            seen.add(id(namespace[name]))
            unique.append(name)
    return unique
