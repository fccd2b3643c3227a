"""Guard for the raw Vega-Lite escape hatch: reject anything that fetches, links, runs expressions
or brings its own data (DESIGN §5). The data is always injected by us from the named frame."""

from __future__ import annotations

import json
import re
from typing import Any

from dbchat_magic.specs.frames import FrameInfo

MAX_SPEC_CHARS = 20_000
_FORBIDDEN_KEYS = {
    "data": "the data comes from the frame named in \"data\"; remove it",
    "datasets": "model-supplied datasets are not allowed",
    "usermeta": "usermeta is not allowed",
    "href": "links are not allowed",
    "url": "URLs are not allowed",
    "$ref": "references are not allowed",
    "loader": "loaders are not allowed",
}
_STRING_EXPR_KEYS = ("filter", "calculate", "expr", "signal", "test")
_PARAM_KEYS = ("bind", "on", "expr")
_URLISH = re.compile(r"^\s*(https?:|ftp:|file:|data:|javascript:|//)", re.IGNORECASE)
_SAFE_TOP = {"$schema", "mark", "encoding", "transform", "layer", "hconcat", "vconcat", "concat",
             "facet", "repeat", "spec", "resolve", "title", "width", "height", "config",
             "description", "name", "params", "autosize", "background", "padding", "view",
             "selection", "projection", "columns", "spacing", "align", "bounds", "center"}


def _walk(node: Any, path: str, errs: list[str], fields: set[str], made: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key in _FORBIDDEN_KEYS:
                sub = "url" if key == "data" and isinstance(value, dict) and "url" in value else (
                    "values" if key == "data" and isinstance(value, dict) and "values" in value
                    else None)
                errs.append(f"{here}{'.' + sub if sub else ''}: {_FORBIDDEN_KEYS[key]}")
                continue
            if key in _STRING_EXPR_KEYS and isinstance(value, str):
                errs.append(f"{here}: expression strings are not allowed")
                continue
            if key == "mark" and (value == "image" or (isinstance(value, dict)
                                  and value.get("type") == "image")):
                errs.append(f"{here}: image marks are not allowed")
                continue
            if key == "params" and isinstance(value, list):
                for i, p in enumerate(value):
                    bad = [k for k in _PARAM_KEYS if isinstance(p, dict) and k in p]
                    if bad:
                        errs.append(f"{here}[{i}].{bad[0]}: "
                                    "params with bind/on/expr are not allowed")
            if key == "field" and isinstance(value, str):
                fields.add(value)
            if key == "as":
                names = value if isinstance(value, list) else [value]
                made.update(v for v in names if isinstance(v, str))
            _walk(value, here, errs, fields, made)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, f"{path}[{i}]", errs, fields, made)
    elif isinstance(node, str) and _URLISH.match(node):
        errs.append(f"{path}: URLs are not allowed")


def referenced_fields(vl: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(fields the spec reads, fields its transforms create)."""
    fields: set[str] = set()
    made: set[str] = set()
    _walk({k: v for k, v in vl.items() if k != "$schema"}, "spec", [], fields, made)
    return fields, made


def guard_errors(vl: Any, info: FrameInfo | None = None) -> list[str]:
    """Every reason to reject ``vl`` ("spec.path: message"); empty when it is safe to render."""
    if not isinstance(vl, dict):
        return ["spec: must be a Vega-Lite object"]
    if len(json.dumps(vl, default=str)) > MAX_SPEC_CHARS:
        return [f"spec: longer than {MAX_SPEC_CHARS:,} characters"]
    errs: list[str] = []
    vl = {k: v for k, v in vl.items() if k != "$schema"}  # ours replaces it; never fetched
    unknown = [k for k in vl if k not in _SAFE_TOP and k not in _FORBIDDEN_KEYS]
    if unknown:
        errs.append(f"spec.{unknown[0]}: not an allowed top-level key")
    fields: set[str] = set()
    made: set[str] = set()
    _walk(vl, "spec", errs, fields, made)
    if not errs and info is not None:
        import difflib

        for f in sorted(fields - made):
            base = f.split(".")[0].replace("\\", "")
            if base not in info.columns:
                hint = difflib.get_close_matches(base, list(info.columns), n=1)
                errs.append(f"spec: field {base!r} is not a column of {info.name}"
                            + (f"; did you mean {hint[0]!r}?" if hint else ""))
    return errs
