"""The closed, versioned widget-spec schema and the rules text that teaches it to the model."""

from __future__ import annotations

from typing import Any

SPEC_VERSION = 1

MARKS = ("bar", "line", "area", "point", "arc", "rect", "boxplot")
FIELD_TYPES = ("quantitative", "nominal", "ordinal", "temporal")
AGGREGATES = ("sum", "mean", "median", "min", "max", "count", "distinct")
TIME_UNITS = ("year", "quarter", "month", "week", "day", "hour",
              "yearmonth", "yearmonthdate", "date")
FILTER_OPS = ("==", "!=", ">", ">=", "<", "<=", "in", "not in", "between", "contains")
WIDGETS = ("chart", "table", "kpi", "vega-lite")
MAX_LIMIT = 5000

_SCALAR = {"type": ["string", "number", "boolean", "null"]}

_CHANNEL: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "field": {"type": "string", "minLength": 1},
        "type": {"enum": list(FIELD_TYPES)},
        "aggregate": {"enum": list(AGGREGATES)},
        "timeUnit": {"enum": list(TIME_UNITS)},
        "bin": {"oneOf": [
            {"type": "boolean"},
            {"type": "object", "additionalProperties": False,
             "properties": {"maxbins": {"type": "integer", "minimum": 2, "maximum": 200}}},
        ]},
        "title": {"type": "string"},
    },
    "anyOf": [
        {"required": ["field"]},
        {"required": ["aggregate"], "properties": {"aggregate": {"const": "count"}}},
    ],
}

_FILTERS: dict[str, Any] = {
    "type": "array",
    "maxItems": 10,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["field", "op", "value"],
        "properties": {
            "field": {"type": "string", "minLength": 1},
            "op": {"enum": list(FILTER_OPS)},
            "value": {"oneOf": [_SCALAR, {"type": "array", "items": _SCALAR, "maxItems": 1000}]},
        },
    },
}

_COMMON: dict[str, Any] = {
    "version": {"const": SPEC_VERSION},
    "data": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
    "title": {"type": "string", "maxLength": 200},
    "filters": _FILTERS,
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "sort": {"type": "string", "minLength": 1},
}

CHART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["widget", "data", "mark", "x", "y"],
    "properties": {
        **_COMMON,
        "widget": {"const": "chart"},
        "mark": {"enum": list(MARKS)},
        "x": _CHANNEL,
        "y": _CHANNEL,
        "color": _CHANNEL,
    },
}

TABLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["widget", "data"],
    "properties": {
        **_COMMON,
        "widget": {"const": "table"},
        "columns": {"type": "array", "items": {"type": "string", "minLength": 1},
                    "minItems": 1, "maxItems": 50},
    },
}

KPI_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["widget", "data", "aggregate"],
    "properties": {
        **{k: v for k, v in _COMMON.items() if k not in ("sort", "limit")},
        "widget": {"const": "kpi"},
        "field": {"type": "string", "minLength": 1},
        "aggregate": {"enum": list(AGGREGATES)},
        "label": {"type": "string", "maxLength": 100},
        "format": {"type": "string", "maxLength": 20},
    },
    "if": {"properties": {"aggregate": {"not": {"const": "count"}}}},
    "then": {"required": ["field"]},
}

VEGA_LITE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["widget", "data", "spec"],
    "properties": {
        "version": {"const": SPEC_VERSION},
        "widget": {"const": "vega-lite"},
        "data": _COMMON["data"],
        "title": _COMMON["title"],
        "spec": {"type": "object"},
    },
}

WIDGET_SCHEMAS: dict[str, dict[str, Any]] = {
    "chart": CHART_SCHEMA, "table": TABLE_SCHEMA, "kpi": KPI_SCHEMA, "vega-lite": VEGA_LITE_SCHEMA,
}

SPEC_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": f"dbchat-magic widget spec v{SPEC_VERSION}",
    "type": "object",
    "required": ["widget"],
    "properties": {"widget": {"enum": list(WIDGETS)}},
    "allOf": [
        {"if": {"properties": {"widget": {"const": w}}, "required": ["widget"]}, "then": s}
        for w, s in WIDGET_SCHEMAS.items()
    ],
}
"""The whole schema as one JSON Schema document (for docs and external tools)."""

_RULES = """\
## Charts, tables and KPIs
When a chart, table or single number helps, add ONE widget spec after your sentence, in a ```json block.
Never write code. Use only frames and columns listed in the data context, spelled exactly.
Kinds:
- chart: {"widget":"chart","data":FRAME,"mark":M,"x":CH,"y":CH,"color"?:CH,"filters"?:[F],"sort"?,"limit"?,"title"?}
  M is bar|line|area|point|arc|rect|boxplot. CH is {"field":COLUMN,"type":T,"aggregate"?:A,"timeUnit"?:U,"bin"?:true}
  T is quantitative|nominal|ordinal|temporal. A is sum|mean|median|min|max|count|distinct.
  U is year|quarter|month|week|day|hour. For arc, x is the category and y the value.
- table: {"widget":"table","data":FRAME,"columns":[COLUMN,...],"filters"?:[F],"sort"?,"limit"?}
- kpi: {"widget":"kpi","data":FRAME,"field":COLUMN,"aggregate":A,"label"?,"format"?:",.0f"}
F is {"field":COLUMN,"op":"==|!=|>|>=|<|<=|in|not in|between|contains","value":V}.
sort is a column or "x"/"y", with "-" in front for descending. limit is at most 5000.
Example 1 (revenue by region):
```json
{"widget":"chart","data":"sales","mark":"bar","x":{"field":"region","type":"nominal"},"y":{"field":"revenue","type":"quantitative","aggregate":"sum"},"sort":"-y"}
```
Example 2 (daily mean price):
```json
{"widget":"chart","data":"prices","mark":"line","x":{"field":"ts","type":"temporal","timeUnit":"day"},"y":{"field":"price","type":"quantitative","aggregate":"mean"}}
```"""  # noqa: E501


def format_rules() -> str:
    """The instructions plus compact schema for the system prompt (short enough for an 8B model)."""
    return _RULES
