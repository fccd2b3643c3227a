"""Summaries of pandas DataFrames and Series, in time independent of the row count.

Frames longer than `SAMPLE_SIZE` rows are described from evenly spaced runs of rows (first and
last row included, so sorted dates and ids keep their true range); a note says so. Only the columns
that can be shown are touched, so a 10,000-column frame costs no more than a narrow one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from dbchat_magic.prompts._context.model import (
    BLOCK_ROWS,
    LONG_TEXT_CHARS,
    LOW_CARDINALITY,
    SAMPLE_BLOCKS,
    SAMPLE_NOTE,
    SAMPLE_ROWS,
    SAMPLE_SIZE,
    ColumnSummary,
    FrameSummary,
)
from dbchat_magic.prompts._context.quoting import (
    format_value,
    format_values_hint,
    is_missing,
    plain_name,
    quote_text,
    safe_name,
)

TYPE_PROBE = 200


def summarize(obj: pd.DataFrame | pd.Series, *, max_columns: int) -> FrameSummary:
    """Describe a pandas DataFrame or Series (at most ``max_columns`` columns in detail)."""
    if isinstance(obj, pd.Series):
        kind = "pandas Series"
        frame = obj.to_frame(name=obj.name if obj.name is not None else "value")
    else:
        kind, frame = "pandas DataFrame", obj
    n_rows, n_cols = frame.shape
    keep = min(n_cols, max_columns)
    sub = frame.iloc[:, :keep] if keep < n_cols else frame
    sampled = n_rows > SAMPLE_SIZE
    stats = sub.iloc[sample_positions(n_rows)] if sampled else sub
    head = sub.iloc[:SAMPLE_ROWS]
    columns = [_column(sub.columns[j], sub.dtypes.iloc[j], stats.iloc[:, j], head.iloc[:, j])
               for j in range(keep)]
    notes = [n for n in (_index_note(frame.index), _columns_note(frame.columns)) if n]
    if sampled:
        notes.append(SAMPLE_NOTE)
    return FrameSummary(kind, n_rows, n_cols, columns, notes, n_samples=len(head))


def sample_positions(n_rows: int) -> np.ndarray:
    """Row numbers of `SAMPLE_BLOCKS` evenly spaced runs of `BLOCK_ROWS` consecutive rows."""
    starts = np.arange(SAMPLE_BLOCKS, dtype=np.int64) * (n_rows - BLOCK_ROWS) // (SAMPLE_BLOCKS - 1)
    return (starts[:, None] + np.arange(BLOCK_ROWS, dtype=np.int64)).ravel()


def _column(name: Any, dtype: Any, values: pd.Series, head: pd.Series) -> ColumnSummary:
    col = ColumnSummary(safe_name(name), _dtype_text(dtype), key=quote_text(plain_name(name), 60))
    try:
        col.hints = _hints(dtype, values, col)
    except Exception:  # odd content: keep the dtype, drop the hints, never fail the prompt
        col.hints = []
    try:
        cells = head.tolist()
        if col.date_only:
            cells = [v.date() if hasattr(v, "date") and not is_missing(v) else v for v in cells]
        col.samples = [format_value(v) for v in cells] if col.in_samples else []
    except Exception:
        col.in_samples = False
    return col


def _dtype_text(dtype: Any) -> str:
    try:
        return " ".join(str(dtype).split())[:60]
    except Exception:
        return type(dtype).__name__


def _null_hint(values: pd.Series) -> tuple[str | None, pd.Series]:
    total = len(values)
    mask = values.isna()
    nulls = int(mask.sum())
    present = values[~mask]
    if total == 0 or nulls == 0:
        return None, present
    if nulls == total:
        return "all null", present
    share = 100.0 * nulls / total
    return ("nulls <1%" if share < 1 else f"nulls {share:.0f}%"), present


def _hints(dtype: Any, values: pd.Series, col: ColumnSummary) -> list[str]:
    null_hint, present = _null_hint(values)
    hints = [null_hint] if null_hint else []
    if present.empty:
        return hints
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        hints.append(format_values_hint(cats[:8].tolist(), len(cats), label="categories"))
        return hints
    if pd.api.types.is_bool_dtype(dtype):
        return hints
    if pd.api.types.is_numeric_dtype(dtype):
        lo, hi = present.min(), present.max()
        hints.append(f"min {format_value(lo)}, max {format_value(hi)}")
        if pd.api.types.is_integer_dtype(dtype):
            distinct = present.nunique()
            if 1 < distinct <= 10 and distinct < len(present):
                values = sorted(present.unique().tolist())
                hints.append(format_values_hint(values, distinct, shown=10))
        return hints
    if pd.api.types.is_datetime64_any_dtype(dtype):
        lo, hi = present.min(), present.max()
        if getattr(dtype, "tz", None) is None and bool((present.dt.normalize() == present).all()):
            col.date_only = True  # every timestamp is at midnight: show dates
            lo, hi = lo.date(), hi.date()
        hints.append(f"range {format_value(lo)} … {format_value(hi)}")
        return hints
    if pd.api.types.is_timedelta64_dtype(dtype):
        hints.append(f"range {format_value(present.min())} … {format_value(present.max())}")
        return hints
    return hints + _object_hints(present, col)


def _object_hints(present: pd.Series, col: ColumnSummary) -> list[str]:
    """Strings and Python objects: type mix, nesting, long text, low-cardinality values."""
    hints: list[str] = []
    values = present.tolist()  # at most SAMPLE_SIZE values
    types = Counter(map(type, values))
    if len(types) > 1:
        hints.append("mixed types: " + ", ".join(t.__name__ for t, _ in types.most_common(4)))
    if any(issubclass(t, dict | list | tuple | set) for t in types):
        hints.append("nested values")
        col.in_samples = not any(len(str(v)) > LONG_TEXT_CHARS for v in values[:20])
        return hints
    probe = values[:TYPE_PROBE]
    texts = [v for v in probe if isinstance(v, str)]
    if texts:
        avg = sum(map(len, texts)) / len(texts)
        if avg > LONG_TEXT_CHARS:
            hints.append(f"long text (about {avg:.0f} chars)")
            col.in_samples = False
            return hints
    counts = present.value_counts(dropna=True)
    if len(counts) <= LOW_CARDINALITY and len(counts) < max(len(present), 2):
        hints.append(format_values_hint(counts.index.tolist(), len(counts)))
    elif len(counts) == len(present):
        hints.append("all values distinct")
    else:
        hints.append(f"{len(counts)} distinct in the rows looked at")
    return hints


def _index_note(index: pd.Index) -> str | None:
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return None
    names = [plain_name(n) for n in index.names if n is not None]
    label = ", ".join(quote_text(n, 30) for n in names) if names else "unnamed"
    if isinstance(index, pd.MultiIndex):
        return f"(row index: MultiIndex of {index.nlevels} levels: {label})"
    return f"(row index: {label}, {_dtype_text(index.dtype)})"


def _columns_note(columns: pd.Index) -> str | None:
    if isinstance(columns, pd.MultiIndex):
        return f'(column labels: MultiIndex of {columns.nlevels} levels, shown joined by " / ")'
    return None
