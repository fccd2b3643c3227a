"""Allow-list building blocks for raw Vega-Lite: each validator accepts some JSON types and checks a
value at a path, writing "path: message" lines into a `Ctx`. Anything not allowed is an error;
keys that can carry a Vega expression get their own message (see `EXPRESSION_KEYS`)."""

from __future__ import annotations

import difflib
import html
import math
import re
from dataclasses import dataclass, field
from typing import Any

EXPRESSION_KEYS = {"expr", "signal", "test", "calculate", "param", "params", "update",
                   "filter", "on", "bind", "select", "views", "selection"}
"""Keys that hold or lead to Vega expressions or interaction (any key ending in "Expr" too)."""
FORBIDDEN = {
    "data": "the data comes from the frame named in \"data\"; remove it",
    "datasets": "model-supplied datasets are not allowed",
    "usermeta": "usermeta is not allowed",
    "href": "links are not allowed",
    "url": "URLs are not allowed",
    "$ref": "references are not allowed",
    "loader": "loaders are not allowed",
}
EXPRESSIONS = "expressions are not allowed"
_URLISH = re.compile(r"(javascript|vbscript|https?|ftps?|wss?|blob|jar):"
                     r"|data:([a-z0-9.+-]+/|[,;])|file:[/\\]|//|\\\\|/\\|\\/")
"""A URL start once spaces/controls are squeezed out ("Data: 2024" and "File: q3" are titles)."""
_SQUEEZE = re.compile(r"[\s\x00-\x1f\x7f]+")


@dataclass
class Ctx:
    """Errors found so far, fields the spec reads and fields its transforms make."""

    errs: list[str] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    made: set[str] = field(default_factory=set)

    def err(self, path: str, message: str) -> None:
        self.errs.append(f"{path}: {message}")


def is_expression_key(key: str) -> bool:
    """True for a key that carries an expression (``labelExpr``, ``signal``, ``test`` …)."""
    return key in EXPRESSION_KEYS or key.endswith("Expr")


def looks_like_url(text: str) -> bool:
    """True when ``text`` starts like a URL (also with entities, case or spaces inside)."""
    head = _SQUEEZE.sub("", html.unescape(text[:200])).lower()
    return _URLISH.match(head) is not None


def _forbidden(key: str, value: Any, path: str, ctx: Ctx) -> bool:
    """Report a key that fetches, links or brings data; True when it was one."""
    if key not in FORBIDDEN:
        return False
    sub = next((s for s in ("url", "values") if isinstance(value, dict) and s in value), None) \
        if key == "data" else None
    ctx.err(f"{path}.{key}" + (f".{sub}" if sub else ""), FORBIDDEN[key])
    return True


class V:
    """A validator: ``accepts(value)`` (its JSON type fits) and ``check(value, path, ctx)``."""

    label = "a value"

    def accepts(self, value: Any) -> bool:
        return True

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        return None

    def __call__(self, value: Any, path: str, ctx: Ctx) -> None:
        if self.accepts(value):
            self.check(value, path, ctx)
        else:
            wrong_type(value, path, ctx, self.label)


def wrong_type(value: Any, path: str, ctx: Ctx, label: str) -> None:
    """An object where a plain value belongs: name any expression key in it; else "expected …"."""
    if isinstance(value, dict):
        carriers = [k for k in value if isinstance(k, str) and is_expression_key(k)]
        if carriers:
            ctx.err(f"{path}.{carriers[0]}", EXPRESSIONS)
            return
    if isinstance(value, str) and looks_like_url(value):
        ctx.err(path, "URLs are not allowed")
        return
    ctx.err(path, f"expected {label}")


class Num(V):
    def __init__(self, integer: bool = False) -> None:
        self.integer = integer
        self.label = "an integer" if integer else "a number"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if not math.isfinite(value):
            ctx.err(path, f"{value} is not a finite number")
        elif self.integer and not float(value).is_integer():
            ctx.err(path, f"{value} is not an integer")


class Bool(V):
    label = "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class Null(V):
    label = "null"

    def accepts(self, value: Any) -> bool:
        return value is None


class Text(V):
    """A plain string: bounded, never URL-like."""

    label = "text"

    def __init__(self, max_len: int = 500, pattern: str | None = None, label: str = "") -> None:
        self.max_len = max_len
        self.pattern = re.compile(pattern) if pattern else None
        self.label = label or self.label

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if looks_like_url(value):
            ctx.err(path, "URLs are not allowed")
        elif len(value) > self.max_len:
            ctx.err(path, f"longer than {self.max_len} characters")
        elif self.pattern is not None and not self.pattern.fullmatch(value):
            ctx.err(path, f"{value[:40]!r} is not {self.label}")


class Enum(V):
    def __init__(self, *values: str | None) -> None:
        self.values = values
        self.label = "one of " + ", ".join(str(v) for v in values[:8]) + (
            ", …" if len(values) > 8 else "")

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) or (value is None and None in self.values)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if value not in self.values:
            wrong_type(value, path, ctx, self.label)


class FieldRef(V):
    """A field name (recorded as read) or ``{"repeat": "row"|"column"|"repeat"|"layer"}``."""

    label = "a field name"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str | dict)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if isinstance(value, dict):
            Obj({"repeat": Enum("row", "column", "repeat", "layer")})(value, path, ctx)
            return
        Text(300).check(value, path, ctx)
        ctx.fields.add(value)


class Name(Text):
    """A name a transform gives its output (recorded as made)."""

    label = "a field name"

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        super().check(value, path, ctx)
        ctx.made.add(value)


class ListOf(V):
    def __init__(self, item: V, max_items: int = 100) -> None:
        self.item = item
        self.max_items = max_items
        self.label = f"a list of {item.label}"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        if len(value) > self.max_items:
            ctx.err(path, f"{len(value):,} items, over the limit of {self.max_items}")
            return
        for i, item in enumerate(value):
            self.item(item, f"{path}[{i}]", ctx)


class One(V):
    """The first of ``options`` whose type fits the value checks it."""

    def __init__(self, *options: V) -> None:
        self.options = options
        self.label = " or ".join(o.label for o in options)

    def accepts(self, value: Any) -> bool:
        return any(o.accepts(value) for o in self.options)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        next(o for o in self.options if o.accepts(value)).check(value, path, ctx)


class Refuse(V):
    def __init__(self, message: str) -> None:
        self.message = message

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        ctx.err(path, self.message)


class Obj(V):
    """An object with only ``keys`` (name → validator); ``top`` words the unknown-key message."""

    label = "an object"

    def __init__(self, keys: dict[str, V] | None = None, *, top: bool = False) -> None:
        self.keys: dict[str, V] = dict(keys or {})
        self.top = top

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, path: str, ctx: Ctx) -> None:
        for key, item in value.items():
            here = f"{path}.{key}"
            if key in self.keys:
                self.keys[key](item, here, ctx)
            elif not _forbidden(key, item, path, ctx):
                self.unknown(key, here, ctx)

    def unknown(self, key: str, here: str, ctx: Ctx) -> None:
        if is_expression_key(key):
            ctx.err(here, EXPRESSIONS)
            return
        hint = difflib.get_close_matches(key, list(self.keys), n=1, cutoff=0.75)
        where = "top-level key" if self.top else "key"
        ctx.err(here, f"not an allowed {where}" + (f"; did you mean {hint[0]!r}?" if hint else ""))


def extend(obj: Obj, **keys: V) -> Obj:
    """A copy of ``obj`` with more keys."""
    return Obj({**obj.keys, **keys}, top=obj.top)
