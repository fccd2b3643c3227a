"""Bounds on what a chart may ask the renderer for, checked on every Vega-Lite dict before it is
rendered (and on raw Vega-Lite specs when they are validated, so a repair turn can fix them).

A spec asking for ``bin.maxbins: 1e8`` or a huge width made vl-convert's V8 allocate terabytes and
abort its process. The renderer now runs in a worker process that may die, but a spec over these
bounds is refused up front with a one-line "path: message". The bounds are generous for real charts:

- nesting: JSON at most 32 levels deep; views nested (layer/concat/facet/repeat) at most 3 deep
- spec text: a model's raw spec ≤ 20,000 characters; the dict we render, without its data, ≤ 100,000
- data: ≤ 5,000 embedded rows (the aggregation limit) and ≤ 8 MB of embedded data
- views: ≤ 10 layers in a layer, ≤ 20 views in a concat, ≤ 20 entries in a repeat, ≤ 100 facet
  panels (distinct values counted in the embedded data), ≤ 100 views in all (facets × layers …)
- bins: ``maxbins`` ≤ 200; ``step``/``steps``/``minstep``/``divide`` are refused (they can ask for
  any number of bins)
- pixels: width/height (and every other pixel length: padding, offsets, limits, radii …) ≤ 4,000;
  a ``{"step": …}`` width ≤ 200; font sizes ≤ 200; stroke widths ≤ 100; mark size (area) ≤ 40,000;
  dash segments 0 or ≥ 1 px
- counts (tick counts, legend columns, density steps, ``nice``): ≤ 500; every number finite
- area: views × the largest width × the largest height ≤ 25,000,000 px² (e.g. 100 panels of
  400 × 400, or one 4,000 × 4,000 chart; its PNG time is in bench/RESULTS.md)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32
MAX_NESTING = 3
MAX_SPEC_CHARS = 20_000
MAX_RENDER_CHARS = 100_000
MAX_ROWS = 5_000
MAX_DATA_BYTES = 8_000_000
MAX_LAYERS = 10
MAX_CONCAT = 20
MAX_REPEAT = 20
MAX_PANELS = 100
MAX_VIEWS = 100
MAX_BINS = 200
MAX_PIXELS = 4_000
MAX_STEP = 200
MAX_FONT = 200
MAX_STROKE = 100
MAX_MARK_AREA = 40_000
MAX_COUNT = 500
MAX_AREA = 25_000_000
_BIN_STEPS = ("step", "steps", "minstep", "divide")
_SIZE_KEYS = {"width", "height", "continuousWidth", "continuousHeight", "discreteWidth",
              "discreteHeight"}
_NUMBER_BOUNDS: tuple[tuple[re.Pattern[str], float, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), bound, unit) for pattern, bound, unit in (
        (r"^maxbins$", MAX_BINS, ""),
        (r"fontsize$", MAX_FONT, " px"),
        (r"(strokewidth|thickness)$", MAX_STROKE, " px"),
        (r"^(size|symbolsize)$", MAX_MARK_AREA, " px²"),
        (r"(count|columns|symbollimit|steps|^nice)$", MAX_COUNT, ""),
        (r"(width|height|padding|spacing|offset|limit|radius|extent|length|separation|lineheight"
         r"|^d[xy]$|^(legend|title)[xy]$|^translate$|^position$|^top$|^bottom$|^left$|^right$)",
         MAX_PIXELS, " px"),
    ))


def _walk(node: Any) -> Iterator[tuple[str, str, str, Any]]:
    """(path, key, parent key, value) for every node, depth first, without recursion."""
    stack: list[tuple[str, str, str, Any]] = [("spec", "", "", node)]
    while stack:
        item = stack.pop()
        yield item
        here, name, value = item[0], item[1], item[3]
        if isinstance(value, dict):
            stack.extend((f"{here}.{k}", str(k), name, v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{here}[{i}]", "", name, v) for i, v in reversed(list(
                enumerate(value))))


def depth_of(node: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON-like tree, counted without recursion (stops past ``limit``)."""
    deepest, stack = 0, [(node, 1)]
    while stack and deepest <= limit:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict)
                                                  else value))
    return deepest


def _over(path: str, value: float, bound: float, unit: str = "") -> str:
    return f"{path}: {value:,.10g} is over the limit of {bound:,.10g}{unit}"


def _number_error(path: str, key: str, parent: str, value: float) -> str | None:
    if not math.isfinite(value):
        return f"{path}: {value} is not a finite number"
    if key == "step" and (parent in _SIZE_KEYS or parent == "view"):
        return _over(path, value, MAX_STEP, " px") if abs(value) > MAX_STEP else None
    if parent.lower().endswith("dash"):
        return None if value == 0 or 1 <= value <= MAX_PIXELS else \
            f"{path}: dash segments must be 0 or 1 to {MAX_PIXELS:,} px"
    for pattern, bound, unit in _NUMBER_BOUNDS:
        if key and pattern.search(key):
            return _over(path, value, bound, unit) if abs(value) > bound else None
    return None


def number_errors(vl: Any) -> list[str]:
    """Bins asking for any number of bins, and numbers over their bound (see the docstring)."""
    errs: list[str] = []
    for path, key, parent, value in _walk(vl):
        if key == "bin" and isinstance(value, dict):
            errs += [f"{path}.{k}: not allowed; use \"maxbins\" (at most {MAX_BINS})"
                     for k in _BIN_STEPS if k in value]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            err = _number_error(path, key, parent, float(value))
            if err:
                errs.append(err)
    return errs


def _rows(data: Any) -> list[dict[str, Any]]:
    from dbchat_magic.specs._records import csv_values

    return csv_values(data) if isinstance(data, dict) else []


def _data_errors(data: Any) -> list[str]:
    if not isinstance(data, dict) or "values" not in data:
        return []
    from dbchat_magic.specs._records import embedded_bytes

    values = data["values"]
    size = embedded_bytes(values)
    if size > MAX_DATA_BYTES:
        return [f"data: {size / 1e6:,.1f} MB embedded, over the limit of "
                f"{MAX_DATA_BYTES / 1e6:,.0f} MB; aggregate, filter or use fewer columns"]
    rows = values.count("\n") - 1 if isinstance(values, str) else len(values)
    return [f"data: {rows:,} rows, over the limit of {MAX_ROWS:,}"] if rows > MAX_ROWS else []


def cap_errors(vl: Any, *, raw: bool = False) -> list[str]:
    """Every bound ``vl`` breaks, as "path: message" lines; empty when it may be rendered.

    ``raw``: a model's spec before we add data (the tighter text limit applies).
    """
    if not isinstance(vl, dict):
        return []
    if depth_of(vl) > MAX_DEPTH:
        return [f"spec: nested more than {MAX_DEPTH} levels deep"]
    body = {k: v for k, v in vl.items() if k not in ("data", "datasets")}
    limit = MAX_SPEC_CHARS if raw else MAX_RENDER_CHARS
    if len(json.dumps(body, default=str)) > limit:
        return [f"spec: longer than {limit:,} characters"]
    errs = _data_errors(vl.get("data")) + number_errors(body)
    if errs:
        return errs
    faceted = any(key in ("facet", "row", "column") for _, key, _, _ in _walk(body))
    rows = _rows(vl.get("data")) if faceted else []
    views = _views(body, "spec", 0, rows, errs)
    if not errs and views > MAX_VIEWS:
        errs.append(f"spec: {views:,} views in all (panels × layers × repeats), over the limit "
                    f"of {MAX_VIEWS}")
    width, height = _largest(body, "width", 400), _largest(body, "height", 300)
    if not errs and views * width * height > MAX_AREA:
        errs.append(f"spec: {views:,} views of {width:,.0f} × {height:,.0f} px, over the limit "
                    f"of {MAX_AREA:,} px² in all")
    return errs


def _largest(body: dict[str, Any], side: str, default: float) -> float:
    """The largest view ``side`` ("width"/"height") in pixels anywhere (marks excluded)."""
    keys = (side, "continuous" + side.capitalize())
    found = [float(v) for _, key, parent, v in _walk(body) if key in keys and parent != "mark"
             and isinstance(v, int | float) and not isinstance(v, bool)]
    return max([default, *found])


def _distinct(rows: list[dict[str, Any]], field: Any) -> int | None:
    """Distinct values of ``field`` in the embedded rows (None when the data does not hold it)."""
    if not rows or not isinstance(field, str) or field not in rows[0]:
        return None
    return len({json.dumps(r.get(field), default=str) for r in rows})


def _panels(path: str, defs: list[tuple[str, Any]], rows: list[dict[str, Any]],
            errs: list[str]) -> int:
    """Facet panels asked for by field definitions (product of their distinct value counts)."""
    total = 1
    for where, fdef in defs:
        field = fdef.get("field") if isinstance(fdef, dict) else None
        count = _distinct(rows, field)
        if count is None:
            continue
        if count > MAX_PANELS:
            errs.append(f"{path}{where}: {count:,} panels (distinct values of {field!r}), over "
                        f"the limit of {MAX_PANELS}")
        total *= count
    return total


def _repeat_count(repeat: Any) -> int:
    if isinstance(repeat, list):
        return len(repeat)
    if not isinstance(repeat, dict):
        return 1
    counts = [len(v) for k, v in repeat.items() if k in ("row", "column", "layer")
              and isinstance(v, list)]
    return math.prod(c for c in counts if c) if counts else 1


def _composed(node: dict[str, Any], path: str, depth: int, rows: list[dict[str, Any]],
              errs: list[str]) -> int | None:
    """Views of a layer/concat/repeat/facet node (None when ``node`` is a unit view)."""
    for key in ("layer", "hconcat", "vconcat", "concat"):
        items = node.get(key)
        if not isinstance(items, list):
            continue
        limit = MAX_LAYERS if key == "layer" else MAX_CONCAT
        if depth >= MAX_NESTING:
            errs.append(f"{path}.{key}: views nested more than {MAX_NESTING} deep")
        elif len(items) > limit:
            errs.append(f"{path}.{key}: {len(items):,} views, over the limit of {limit}")
        else:
            return sum(_views(v, f"{path}.{key}[{i}]", depth + 1, rows, errs)
                       for i, v in enumerate(items))
        return len(items)
    if "repeat" not in node and "facet" not in node:
        return None
    if depth >= MAX_NESTING:
        errs.append(f"{path}.spec: views nested more than {MAX_NESTING} deep")
        return 1
    if "repeat" in node:
        count = _repeat_count(node["repeat"])
        if count > MAX_REPEAT:
            errs.append(f"{path}.repeat: {count:,} views, over the limit of {MAX_REPEAT}")
    else:
        facet = node["facet"]
        defs = [(f".{k}", facet[k]) for k in ("row", "column") if k in facet] if isinstance(
            facet, dict) and ("row" in facet or "column" in facet) else [("", facet)]
        count = _panels(f"{path}.facet", defs, rows, errs)
    return count * _views(node.get("spec"), f"{path}.spec", depth + 1, rows, errs)


def _views(node: Any, path: str, depth: int, rows: list[dict[str, Any]], errs: list[str]) -> int:
    """Unit views ``node`` draws: layers, concats and repeats expanded, facet panels counted."""
    if not isinstance(node, dict):
        return 0
    composed = _composed(node, path, depth, rows, errs)
    if composed is not None:
        return composed
    enc = node.get("encoding")
    defs = [(f".{k}", enc[k]) for k in ("facet", "row", "column")
            if isinstance(enc, dict) and k in enc]
    return _panels(f"{path}.encoding", defs, rows, errs)
