"""Validate a spec: schema → the frame exists → columns exist → dtypes fit; at most three errors."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from dbchat_magic.specs._frames import FrameInfo, describe_frame, list_frames
from dbchat_magic.specs._schema import WIDGET_SCHEMAS, WIDGETS
from dbchat_magic.specs._schema_check import iter_errors

MAX_ERRORS = 3
_NUMERIC_AGGS = {"sum", "mean", "median"}
_ORDER_AGGS = {"min", "max"}
_CHANNELS = ("x", "y", "color")


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "spec"


def _schema_message(err: Any) -> tuple[str, str]:
    """A short (path, message) for one schema error (`SchemaError` or jsonschema's)."""
    path = _path(err.absolute_path)
    v = err.validator
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return path, f'missing "{missing}"'
    if v == "additionalProperties":
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        known = list(err.schema.get("properties", {}))
        hint = [k for k in known if extra and k.startswith(str(extra[0]))][:1] or (
            difflib.get_close_matches(str(extra[0]), known, n=1, cutoff=0.5) if extra else [])
        tail = f'; did you mean "{hint[0]}"?' if hint else f"; allowed: {', '.join(known)}"
        return path, f"unknown key {_short(extra[0] if extra else '?')}{tail}"
    if v == "enum":
        allowed = ", ".join(map(str, err.validator_value))
        return path, f"{_short(err.instance)} is not one of {allowed}"
    if v == "const":
        return path, f"must be {_short(err.validator_value)}"
    if v == "anyOf" and isinstance(err.instance, dict):
        return path, 'needs "field" (or "aggregate": "count")'
    if v == "type":
        return path, f"{_short(err.instance)} is not of type {err.validator_value}"
    if v == "pattern":
        return path, f"{_short(err.instance)} is not a variable name"
    if v in ("maximum", "minimum", "maxItems", "minItems", "maxLength", "minLength"):
        return path, f"{_short(err.instance)} breaks {v} {err.validator_value}"
    return path, err.message if len(err.message) <= 80 else err.message[:77] + "..."


def schema_errors(spec: Any) -> list[str]:
    """Schema errors only ("path: message"), at most three."""
    if not isinstance(spec, dict):
        return ["spec: must be a JSON object"]
    widget = spec.get("widget")
    if widget is None:
        return [f"widget: missing; use one of {', '.join(WIDGETS)}"]
    if widget not in WIDGET_SCHEMAS:
        return [f"widget: {_short(widget)} is not one of {', '.join(WIDGETS)}"]
    seen: list[str] = []
    errors = sorted(iter_errors(spec, WIDGET_SCHEMAS[widget]),
                    key=lambda e: (len(e.path), list(map(str, e.path))))
    for err in errors:
        line = "{}: {}".format(*_schema_message(err))
        if line not in seen:
            seen.append(line)
    return seen[:MAX_ERRORS]


def _missing_column(path: str, name: str, info: FrameInfo) -> str:
    cols = list(info.columns)
    lower = {c.lower(): c for c in cols}
    hints = [lower[name.lower()]] if name.lower() in lower else difflib.get_close_matches(
        name, cols, n=2, cutoff=0.5)
    if hints:
        options = " or ".join(map(_short, hints))
        return f"{path}: no column {_short(name)} in {info.name}; did you mean {options}?"
    shown = ", ".join(cols[:8]) + (", ..." if len(cols) > 8 else "")
    return f"{path}: no column {_short(name)} in {info.name}; columns: {shown}"


def parses_as_dates(info: FrameInfo, column: str) -> bool:
    """True when most of a pandas text column's first values parse as dates."""
    if info.kind != "pandas" or info.columns.get(column) != "text":
        return False
    import pandas as pd

    sample = info.frame[column].dropna().head(20)
    try:
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    except (ValueError, TypeError, OverflowError):
        return False
    return len(sample) > 0 and parsed.notna().mean() >= 0.6


def _dtype_errors_channel(path: str, ch: dict[str, Any], info: FrameInfo) -> list[str]:
    col = ch.get("field")
    if col is None or col not in info.columns:
        return []
    cls = info.columns[col]
    is_date = cls == "datetime" or parses_as_dates(info, col)
    agg, typ = ch.get("aggregate"), ch.get("type")
    dtype = info.dtypes.get(col, cls)
    errs: list[str] = []
    if agg in _NUMERIC_AGGS and cls not in ("numeric", "bool"):
        errs.append(f"{path}.aggregate: {_short(agg)} needs a numeric column; "
                    f"{_short(col)} is {dtype}")
    elif agg in _ORDER_AGGS and cls not in ("numeric", "bool") and not is_date:
        errs.append(f"{path}.aggregate: {_short(agg)} needs a numeric or date column; "
                    f"{_short(col)} is {dtype}")
    elif typ == "quantitative" and agg not in ("count", "distinct") \
            and cls not in ("numeric", "bool"):
        better = "temporal" if is_date else "nominal"
        errs.append(f"{path}.type: {_short(col)} is {dtype}, not numeric; use \"{better}\"")
    elif typ == "temporal" and not is_date and agg not in ("count", "distinct"):
        errs.append(f"{path}.type: {_short(col)} is {dtype}, not a date; "
                    "use \"ordinal\" or \"nominal\"")
    if ch.get("timeUnit") and not is_date:
        errs.append(f"{path}.timeUnit: {_short(col)} is {dtype}, not a date")
    if ch.get("bin") and cls != "numeric":
        errs.append(f"{path}.bin: {_short(col)} is {dtype}, not numeric")
    return errs


def _columns_used(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, column) pairs for every column the spec names."""
    used: list[tuple[str, str]] = []
    widget = spec["widget"]
    if widget == "chart":
        used += [(f"{c}.field", spec[c]["field"]) for c in _CHANNELS
                 if isinstance(spec.get(c), dict) and "field" in spec[c]]
    elif widget == "table":
        used += [(f"columns[{i}]", c) for i, c in enumerate(spec.get("columns", []))]
    elif widget == "kpi" and "field" in spec:
        used.append(("field", spec["field"]))
    used += [(f"filters[{i}].field", f["field"]) for i, f in enumerate(spec.get("filters", []))]
    return used


def _filter_errors(spec: dict[str, Any], info: FrameInfo) -> list[str]:
    errs: list[str] = []
    for i, f in enumerate(spec.get("filters", [])):
        op, value, cls = f["op"], f["value"], info.columns.get(f["field"])
        if cls is None:
            continue
        if op == "between" and not (isinstance(value, list) and len(value) == 2):
            errs.append(f"filters[{i}].value: \"between\" needs [low, high]")
        elif op in ("in", "not in") and not isinstance(value, list):
            errs.append(f"filters[{i}].value: {_short(op)} needs a list")
        elif op == "contains" and cls != "text":
            errs.append(f"filters[{i}].op: \"contains\" needs a text column")
        elif op in (">", ">=", "<", "<=") and cls == "numeric" \
                and not isinstance(value, int | float):
            errs.append(f"filters[{i}].value: {_short(value)} is not a number")
    return errs


def _sort_errors(spec: dict[str, Any], info: FrameInfo) -> list[str]:
    sort = spec.get("sort")
    if not sort:
        return []
    key = sort.lstrip("-")
    if key in ("ascending", "descending"):
        return []
    if spec["widget"] == "chart":
        fields = [spec[c].get("field") for c in _CHANNELS if isinstance(spec.get(c), dict)]
        if key in (*_CHANNELS, *fields):
            return []
        return [f"sort: {_short(sort)} is not x, y, -x, -y or a charted field"]
    if key in info.columns:
        return []
    return [_missing_column("sort", key, info)]


def _semantic_errors(spec: dict[str, Any], info: FrameInfo) -> list[str]:
    errs = [_missing_column(p, c, info) for p, c in _columns_used(spec) if c not in info.columns]
    if errs:
        return errs
    if spec["widget"] == "chart":
        for c in _CHANNELS:
            if isinstance(spec.get(c), dict):
                errs += _dtype_errors_channel(c, spec[c], info)
        if spec["mark"] == "boxplot" and spec["y"].get("aggregate"):
            errs.append("y.aggregate: a boxplot summarises raw values; drop the aggregate")
    elif spec["widget"] == "kpi":
        errs += _dtype_errors_channel("field", {"field": spec.get("field"),
                                                "aggregate": spec["aggregate"]}, info)
    return errs + _filter_errors(spec, info) + _sort_errors(spec, info)


def resolve_frame(spec: dict[str, Any], namespace: Mapping[str, Any]) -> FrameInfo | str:
    """The `FrameInfo` named by ``spec["data"]``, or a "data: ..." error line."""
    name = spec["data"]
    obj = namespace.get(name)
    info = describe_frame(name, obj) if obj is not None else None
    if info is not None:
        return info
    frames = list_frames(namespace)
    if obj is not None:
        return f"data: {_short(name)} is a {type(obj).__name__}, not a DataFrame"
    hint = difflib.get_close_matches(name, frames, n=1)
    if hint:
        return f"data: no DataFrame named {_short(name)}; did you mean {_short(hint[0])}?"
    return f"data: no DataFrame named {_short(name)}; frames: {', '.join(frames[:8]) or 'none'}"


def validate_spec(spec: Any, namespace: Mapping[str, Any]) -> list[str]:
    """Errors as "path: message" lines (at most three); an empty list means the spec can render."""
    errs = schema_errors(spec)
    if errs:
        return errs
    info = resolve_frame(spec, namespace)
    if isinstance(info, str):
        return [info]
    if spec["widget"] == "vega-lite":
        from dbchat_magic.specs._vegalite_guard import guard_errors

        return guard_errors(spec["spec"], info)[:MAX_ERRORS]
    return _semantic_errors(spec, info)[:MAX_ERRORS]
