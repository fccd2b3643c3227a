"""Describe one frame-like object as data-context text, whatever library it comes from.

Libraries are recognised by the module names in the object's class hierarchy, so polars and pyspark
are never imported unless an object of theirs already exists in the namespace.
"""

from __future__ import annotations

import importlib
from typing import Any

from dbchat_magic.prompts._context.model import ColumnSummary, FrameSummary
from dbchat_magic.prompts._context.render import render_frame as _render_frame

__all__ = ["ColumnSummary", "FrameSummary", "describe_object", "frame_kind", "kind_label"]

_KINDS: dict[tuple[str, str], tuple[str, str]] = {
    ("pandas", "DataFrame"): ("pandas", "pandas DataFrame"),
    ("pandas", "Series"): ("pandas", "pandas Series"),
    ("polars", "DataFrame"): ("polars", "polars DataFrame"),
    ("polars", "Series"): ("polars", "polars Series"),
    ("polars", "LazyFrame"): ("polars", "polars LazyFrame"),
    ("pyspark", "DataFrame"): ("spark", "Spark DataFrame"),
}
_MODULES = {
    "pandas": "dbchat_magic.prompts._context.pandas_frames",
    "polars": "dbchat_magic.prompts._context.polars_frames",
    "spark": "dbchat_magic.prompts._context.spark_frames",
}
_COLUMN_TOKENS = 8  # rough cost of one column line: how many columns are worth summarising


def _match(obj: Any) -> tuple[str, str] | None:
    for cls in type(obj).__mro__:
        root = cls.__module__.split(".", 1)[0]
        hit = _KINDS.get((root, cls.__name__))
        if hit and (root != "pyspark" or cls.__module__.startswith("pyspark.sql")):
            return hit
    return None


def frame_kind(obj: Any) -> str | None:
    """"pandas", "polars" or "spark" for a frame-like object, else None (no import needed)."""
    hit = _match(obj)
    return hit[0] if hit else None


def kind_label(obj: Any) -> str:
    """Human label such as "pandas DataFrame", or the type name for other objects."""
    hit = _match(obj)
    return hit[1] if hit else type(obj).__name__


def _summarize(obj: Any, *, max_columns: int) -> FrameSummary:
    """Library-neutral summary of ``obj`` (which must be frame-like)."""
    kind = frame_kind(obj)
    if kind is None:
        raise TypeError(f"not a DataFrame: {type(obj).__name__}")
    module = importlib.import_module(_MODULES[kind])
    return module.summarize(obj, max_columns=max_columns)


def describe_object(var: str, obj: Any, budget_tokens: int) -> str:
    """The ``### var (...)`` section for ``obj`` within ``budget_tokens``; never raises."""
    max_columns = max(1, budget_tokens // _COLUMN_TOKENS)
    try:
        summary = _summarize(obj, max_columns=max_columns)
    except Exception as exc:  # odd objects still get a bounded header, never a traceback
        summary = FrameSummary(kind_label(obj), "?", 0,
                               notes=[f"(could not be described: {type(exc).__name__})"])
        summary.n_columns = _safe_width(obj)
    return _render_frame(var, summary, budget_tokens)


def _safe_width(obj: Any) -> int:
    try:
        return len(obj.columns)
    except Exception:
        return 0
