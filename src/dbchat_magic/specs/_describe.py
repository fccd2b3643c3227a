"""Specs as words: a one-line description of a spec, and an answer with its spec blocks replaced
(for places that show an answer as one line of text, such as ``%dbchat history``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dbchat_magic.specs._extract import extract_specs

_OPEN_FENCE_TAIL = re.compile(r"(?:^|\n)[ \t]*(`{3,}|~{3,})[\w.+-]*[ \t]*\r?\n[ \t]*$")


def block_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``start:end`` (a spec's JSON) to include the Markdown fence around it, if any."""
    opening = _OPEN_FENCE_TAIL.search(text, max(0, start - 200), start)
    if opening is None or opening.end() != start:
        return start, end
    fence = opening.group(1)
    closing = re.compile(rf"[ \t]*\r?\n?[ \t]*{re.escape(fence)}[ \t]*(?=\r?\n|$)").match(text, end)
    if closing is None:
        return start, end
    return opening.start(1), closing.end()


def _channel(channel: Any) -> str:
    if not isinstance(channel, dict):
        return "?"
    field, agg = channel.get("field"), channel.get("aggregate")
    unit = channel.get("timeUnit")
    name = f"{unit}({field})" if unit and field and unit != field else str(field or "rows")
    if agg == "count" and not field:
        return "count"
    return f"{agg}({name})" if agg else name


def describe_spec(spec: dict[str, Any]) -> str:
    """``"[bar chart of sum(revenue) by region from sales]"``: what a spec shows, in one line."""
    widget, data = spec.get("widget"), spec.get("data", "?")
    if widget == "chart":
        what = f"{spec.get('mark', '?')} chart of {_channel(spec.get('y'))} by " \
               f"{_channel(spec.get('x'))}"
        if isinstance(spec.get("color"), dict):
            what += f" and {_channel(spec['color'])}"
    elif widget == "table":
        columns = spec.get("columns")
        what = f"table of {', '.join(map(str, columns))}" if isinstance(columns, list) else "table"
    elif widget == "kpi":
        agg, field = spec.get("aggregate", "?"), spec.get("field")
        what = f"KPI {agg}({field})" if field else f"KPI {agg}"
    elif widget == "vega-lite":
        what = "Vega-Lite chart"
    else:
        what = f"{widget} widget"
    title = spec.get("title")
    return f"[{what} from {data}" + (f": {title}]" if isinstance(title, str) and title else "]")


def replace_specs(text: str, replace: Callable[[dict[str, Any], str], str]) -> str:
    """``text`` with each complete spec block (fence included) replaced by
    ``replace(spec, block_text)``; the text unchanged when extraction fails."""
    try:
        found = [s for s in extract_specs(text) if s.spec is not None]
    except Exception:  # extraction is best effort for display; never lose the answer over it
        return text
    for item in sorted(found, key=lambda s: s.start, reverse=True):
        start, end = block_span(text, item.start, item.end)
        assert item.spec is not None
        text = text[:start] + replace(item.spec, text[start:end]) + text[end:]
    return text


def specs_as_words(text: str) -> str:
    """``text`` with every spec block replaced by its `describe_spec` line."""
    return replace_specs(text, lambda spec, _block: describe_spec(spec))
