"""Summaries of Spark DataFrames: schema plus a `limit(n)` sample, never a count or full scan.

A ``limit(3)`` is cheap only when the plan can stop early. When the optimised plan aggregates,
joins, sorts, deduplicates or repartitions, the sample would compute the whole plan, so it is
skipped and a note says why. The plan comes from the JVM on classic Spark and from the explain
RPC on Spark Connect (serverless and shared Databricks compute); neither runs the plan.
"""

from __future__ import annotations

import re
from typing import Any

from dbchat_magic.prompts._context.model import SAMPLE_ROWS, ColumnSummary, FrameSummary
from dbchat_magic.prompts._context.quoting import format_value, quote_text, safe_name

_COSTLY = re.compile(r"(Aggregate|Join|Sort|Window\w*|Repartition\w*|Rebalance\w*|"
                     r"Deduplicate\w*|Distinct|Expand|Intersect|Except)")
_TREE = re.compile(r"^[\s:+|-]*")


def _plan_text(df: Any) -> str:
    """The optimised logical plan of ``df`` as text, computed without running it."""
    if type(df).__module__.startswith("pyspark.sql.connect"):
        text = df._explain_string(mode="extended")  # one analyze RPC; pyspark >= 3.4
        optimised = text.split("== Optimized Logical Plan ==", 1)[-1]
        return optimised.split("== Physical Plan ==", 1)[0]
    return str(df._jdf.queryExecution().optimizedPlan().toString())


def costly_step(df: Any) -> str | None:
    """Name of a plan step that makes even ``limit(n)`` scan everything, or None."""
    try:
        plan = _plan_text(df)
    except Exception:  # the private API changed or the server refused: assume a limit is cheap
        return None
    for line in plan.splitlines():
        word = _TREE.sub("", line).split(" ", 1)[0].split(",", 1)[0]
        if _COSTLY.fullmatch(word):
            return word
    return None


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
    step = costly_step(obj)
    if step:
        notes.append(f"(no sample rows: the plan has a {step} step, so even a sample would "
                     "compute all of it)")
        return FrameSummary("Spark DataFrame", "?", len(fields), columns, notes)
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
