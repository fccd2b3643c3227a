"""Summaries of polars DataFrames, Series and LazyFrames (imported only when such an object exists).

Null counts are exact (polars keeps them per chunk); other hints come from a sample of at most
`SAMPLE_SIZE` rows in evenly spaced runs. A LazyFrame is described by its schema only: running its
plan could cost anything.
"""

from __future__ import annotations

from typing import Any

import polars as pl

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
    quote_text,
    safe_name,
)


def summarize(obj: Any, *, max_columns: int) -> FrameSummary:
    """Describe a polars DataFrame, Series or LazyFrame."""
    if isinstance(obj, pl.LazyFrame):
        schema = obj.collect_schema()
        names = list(schema.names())
        cols = [ColumnSummary(safe_name(n), _dtype_text(schema[n]), key=quote_text(n, 60))
                for n in names[:max_columns]]
        return FrameSummary("polars LazyFrame", "?", len(names), cols,
                            ["(lazy query: schema only, not executed)"])
    kind = "polars Series" if isinstance(obj, pl.Series) else "polars DataFrame"
    frame = obj.to_frame(obj.name or "value") if isinstance(obj, pl.Series) else obj
    n_rows, n_cols = frame.height, frame.width
    sub = frame.select(frame.columns[:max_columns])
    sampled = n_rows > SAMPLE_SIZE
    stats = sub.gather(_positions(n_rows)) if sampled else sub
    head = sub.head(SAMPLE_ROWS)
    null_counts = sub.null_count().row(0)
    columns = [_column(sub.get_column(name), stats.get_column(name), head.get_column(name),
                       null_counts[j], n_rows) for j, name in enumerate(sub.columns)]
    notes = [SAMPLE_NOTE] if sampled else []
    return FrameSummary(kind, n_rows, n_cols, columns, notes, n_samples=head.height)


def _positions(n_rows: int) -> pl.Series:
    """Row numbers of `SAMPLE_BLOCKS` evenly spaced runs of `BLOCK_ROWS` consecutive rows."""
    steps = pl.int_range(0, SAMPLE_SIZE, eager=True, dtype=pl.Int64)
    block, offset = steps // BLOCK_ROWS, steps % BLOCK_ROWS
    return block * (n_rows - BLOCK_ROWS) // (SAMPLE_BLOCKS - 1) + offset


def _dtype_text(dtype: Any) -> str:
    return " ".join(str(dtype).split())[:60]


def _column(full: pl.Series, values: pl.Series, head: pl.Series, nulls: int,
            n_rows: int) -> ColumnSummary:
    col = ColumnSummary(safe_name(full.name), _dtype_text(full.dtype),
                        key=quote_text(full.name, 60))
    try:
        col.hints = _hints(full.dtype, values, nulls, n_rows, col)
    except Exception:  # odd content: keep the dtype, drop the hints
        col.hints = []
    try:
        col.samples = [format_value(v) for v in head.to_list()] if col.in_samples else []
    except Exception:
        col.in_samples = False
    return col


def _hints(dtype: Any, values: pl.Series, nulls: int, n_rows: int,
           col: ColumnSummary) -> list[str]:
    hints: list[str] = []
    if n_rows and nulls == n_rows:
        return ["all null"]
    if nulls:
        share = 100.0 * nulls / n_rows
        hints.append("nulls <1%" if share < 1 else f"nulls {share:.0f}%")
    present = values.drop_nulls()
    if present.is_empty() or dtype == pl.Boolean:
        return hints
    if isinstance(dtype, pl.Enum):
        cats = list(dtype.categories)
        return [*hints, format_values_hint(cats[:8], len(cats), label="categories")]
    if isinstance(dtype, pl.Categorical):  # categories in use (polars 2 has no per-column list)
        used = present.cast(pl.String).unique().sort().to_list()
        return [*hints, format_values_hint(used[:8], len(used), label="categories")]
    if dtype.is_numeric():
        hints.append(f"min {format_value(present.min())}, max {format_value(present.max())}")
        distinct = present.n_unique() if dtype.is_integer() else 0
        if 1 < distinct <= 10 and distinct < len(present):
            uniq = present.unique().sort()
            hints.append(format_values_hint(uniq.to_list(), len(uniq), shown=10))
        return hints
    if dtype.is_temporal():
        return [*hints, f"range {format_value(present.min())} … {format_value(present.max())}"]
    if dtype.is_nested():
        col.in_samples = False
        return [*hints, "nested values"]
    if dtype in (pl.String, pl.Utf8):
        avg = present.head(200).str.len_chars().mean()
        if avg is not None and float(avg) > LONG_TEXT_CHARS:  # type: ignore[arg-type]
            col.in_samples = False
            return [*hints, f"long text (about {float(avg):.0f} chars)"]  # type: ignore[arg-type]
    counts = present.value_counts(sort=True)
    distinct = counts.height
    if distinct <= LOW_CARDINALITY and distinct < max(len(present), 2):
        hints.append(format_values_hint(counts.to_series(0).to_list(), distinct))
    elif distinct == len(present):
        hints.append("all values distinct")
    else:
        hints.append(f"{distinct} distinct in the rows looked at")
    return hints
