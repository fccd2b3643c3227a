"""Compile table and KPI specs into HTML / plain-text mimebundles (escaped, no scripts)."""

from __future__ import annotations

import html
import math
import re
from typing import Any

from dbchat_magic.specs._compile import EmptyResult
from dbchat_magic.specs._frames import FrameInfo
from dbchat_magic.specs._plan import kpi_plan, table_plan
from dbchat_magic.specs.engines import run_plan

_FORMAT = re.compile(r"^(?P<prefix>[$€£]?)(?P<spec>,?(?:\.\d+)?[dfeg%]?)(?P<suffix>[^\d]*)$")
_AGG_LABEL = {"sum": "Total", "mean": "Average", "median": "Median", "min": "Minimum",
              "max": "Maximum", "count": "Count", "distinct": "Distinct"}


def format_number(value: Any, fmt: str | None) -> str:
    """Format ``value`` with a d3-style format such as ",.0f", ".1%", "$,.2f" (safe fallback)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if hasattr(value, "isoformat"):
        return str(value)
    if not isinstance(value, int | float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return str(value)
    m = _FORMAT.match(fmt or "")
    if fmt and m:
        spec = m["spec"]
        if spec.endswith("d"):
            spec = spec[:-1].split(".")[0] + ".0f"
        try:
            return f"{m['prefix']}{format(value, spec)}{m['suffix']}"
        except ValueError:
            pass
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"


def compile_table(spec: dict[str, Any], info: FrameInfo) -> tuple[dict[str, Any], list[str], int]:
    """(mimebundle, notes, rows shown) for a table spec."""
    plan = table_plan(spec, list(info.columns))
    res = run_plan(info, plan)
    cols = list(spec.get("columns") or [c for c, _ in plan.fields][:50])
    df = res.frame[cols]
    notes = []
    if res.truncated:
        total = f"{res.total:,}" if res.total is not None else "more"
        notes.append(f"Showing {len(df):,} of {total} rows.")
    caption = html.escape(spec.get("title") or f"{info.name}")
    table = df.to_html(index=False, escape=True, border=0, classes="dbchat-table",
                       na_rep="", max_rows=None)
    body = f'<div class="dbchat-table-wrap"><div><b>{caption}</b></div>{table}</div>'
    text = f"{spec.get('title') or info.name}\n{df.to_string(index=False)}"
    if len(df) == 0:
        text = f"{spec.get('title') or info.name}: no rows" + (
            " match the filters" if spec.get("filters") else "")
        body = f"<div>{html.escape(text)}</div>"
    return {"text/html": body, "text/plain": text}, notes, len(df)


def compile_kpi(spec: dict[str, Any], info: FrameInfo) -> tuple[dict[str, Any], list[str], Any]:
    """(mimebundle, notes, value) for a KPI spec."""
    res = run_plan(info, kpi_plan(spec))
    value = res.frame["value"].iloc[0] if len(res.frame) else None
    if value is not None and hasattr(value, "item"):
        value = value.item()
    if value is None and spec["aggregate"] != "count":
        raise EmptyResult(f"data: no rows left in {info.name}" +
                          (" after the filters" if spec.get("filters") else ""))
    label = spec.get("label") or (
        f"{_AGG_LABEL[spec['aggregate']]} {spec.get('field') or 'rows'}".strip())
    shown = format_number(value, spec.get("format"))
    card = ('<div class="dbchat-kpi" style="display:inline-block;padding:8px 16px;'
            'border:1px solid #ddd;border-radius:6px;font-family:sans-serif">'
            f'<div style="font-size:12px;color:#666">{html.escape(label)}</div>'
            f'<div style="font-size:28px;font-weight:600">{html.escape(shown)}</div></div>')
    return {"text/html": card, "text/plain": f"{label}: {shown}"}, [], value
