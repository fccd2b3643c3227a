"""Summaries of Spark DataFrames: schema plus a `limit(n)` sample, never a count or full scan."""

from __future__ import annotations

from typing import Any

from dbchat_magic.prompts.context.model import ColumnSummary, FrameSummary
from dbchat_magic.prompts.context.quoting import format_value, quote_text, safe_name

SAMPLE_ROWS = 3


def summarize(obj: Any, *, max_columns: int) -> FrameSummary:
    """Describe a pyspark (classic or Connect) DataFrame without counting its rows."""
    fields = list(obj.schema.fields)
    shown = fields[:max_columns]
    columns = []
    for f in shown:
        hints = [] if f.nullable else ["not null"]
        columns.append(ColumnSummary(safe_name(f.name), f.dataType.simpleString()[:60], hints,
                                     key=quote_text(f.name, 60)))
    notes = ["(row count not computed: a count would scan the data)"]
    n_samples = 0
    try:
        part = obj if len(shown) == len(fields) else obj.select(
            *["`" + f.name.replace("`", "``") + "`" for f in shown])
        rows = part.limit(SAMPLE_ROWS).collect()
        for j, col in enumerate(columns):
            col.samples = [format_value(row[j]) for row in rows]
        n_samples = len(rows)
    except Exception as exc:  # a failing plan must not break the prompt
        notes.append(f"(sample rows unavailable: {type(exc).__name__})")
    return FrameSummary("Spark DataFrame", "?", len(fields), columns, notes, n_samples=n_samples)
