"""Render a `FrameSummary` as the data-context text, within a token budget.

Format (a contract with the charts layer's demo model, see docs/interfaces.md)::

    ### sales (pandas DataFrame, 1000 rows × 3 columns)
    - region: str; 4 distinct: "East", "North", "South", "West"
    - revenue: float64; nulls 2%; min 0.5, max 999.9
    (notes: hidden columns, index, sampling)
    sample rows:
    {"region": "North", "revenue": 12.5}
"""

from __future__ import annotations

from dbchat_magic.prompts._budget import truncate_to_tokens
from dbchat_magic.prompts._context.model import ColumnSummary, FrameSummary
from dbchat_magic.tokens import estimate_tokens

MAX_LINE_CHARS = 240
SAMPLE_SHARE = 0.3  # part of a frame's budget kept for sample rows when columns compete for it


def header_line(var: str, summary: FrameSummary) -> str:
    """The ``### name (kind, rows rows × n columns)`` line."""
    return f"### {var} ({summary.kind}, {summary.rows} rows × {summary.n_columns} columns)"


def column_line(col: ColumnSummary) -> str:
    """``- name: dtype; hint; hint`` cut to one bounded line."""
    line = f"- {col.name}: {'; '.join([col.dtype, *col.hints])}"
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


def row_line(columns: list[ColumnSummary], index: int) -> str:
    """Sample row ``index`` over ``columns`` as one ``{"key": value, ...}`` line; fields that
    would make the line longer than `MAX_LINE_CHARS` are left out and marked with "…"."""
    fields: list[str] = []
    length = 2
    for col in columns:
        if not col.in_samples or index >= len(col.samples):
            continue
        item = f"{col.key}: {col.samples[index]}"
        if length + len(item) + 2 > MAX_LINE_CHARS - 3:
            fields.append("…")
            break
        fields.append(item)
        length += len(item) + 2
    return "{" + ", ".join(fields) + "}"


def _cost(line: str) -> int:
    return estimate_tokens(line + "\n")


def render_frame(var: str, summary: FrameSummary, budget_tokens: int) -> str:
    """Header, column lines, notes, then sample rows, dropping what does not fit the budget."""
    header = header_line(var, summary)
    used = _cost(header)
    if used > budget_tokens:
        return truncate_to_tokens(header, budget_tokens)
    lines = [header]
    sample_reserve = int(budget_tokens * SAMPLE_SHARE) if summary.n_samples else 0
    shown: list[ColumnSummary] = []
    for col in summary.columns:
        line = column_line(col)
        rest = summary.n_columns - len(shown) - 1
        tail = _cost(f"({rest} more columns not shown)") if rest else 0
        if used + _cost(line) + tail + (sample_reserve if shown else 0) > budget_tokens:
            break
        lines.append(line)
        used += _cost(line)
        shown.append(col)
    not_shown = summary.n_columns - len(shown)
    if not_shown > 0:
        more = f"({not_shown} more columns not shown)"
        if used + _cost(more) <= budget_tokens:
            lines.append(more)
            used += _cost(more)
    for note in summary.notes:
        note = note if len(note) <= MAX_LINE_CHARS else note[: MAX_LINE_CHARS - 1] + "…"
        if used + _cost(note) + sample_reserve // 2 > budget_tokens:
            break
        lines.append(note)
        used += _cost(note)
    rows = [row_line(shown, i) for i in range(summary.n_samples)]
    rows = [r for r in rows if r != "{}"]
    if rows and used + _cost("sample rows:") + _cost(rows[0]) <= budget_tokens:
        lines.append("sample rows:")
        used += _cost("sample rows:")
        for row in rows:
            if used + _cost(row) > budget_tokens:
                break
            lines.append(row)
            used += _cost(row)
    return "\n".join(lines)
