"""A small JSON Schema (draft 2020-12) checker for the package's own closed widget schemas.

``jsonschema`` costs 2–5 s to import on a loaded machine (its format checkers build parsers at
import), which landed on the first chart of a fresh kernel. The widget schemas use only the
keywords below; this checker reports the same errors as ``jsonschema``'s ``iter_errors`` for them
(a test compares both over the spec corpus and the hostile cases). An unknown keyword is a bug here,
so it raises rather than passing silently.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}
_IGNORED = {"$schema", "title", "description"}


@dataclass(slots=True)
class SchemaError:
    """One failed keyword, with the attributes of a ``jsonschema.ValidationError`` we read."""

    validator: str
    validator_value: Any
    instance: Any
    schema: dict[str, Any]
    message: str
    path: deque[str | int] = field(default_factory=deque)

    @property
    def absolute_path(self) -> deque[str | int]:
        """Where in the instance the error is (keys and indexes from the root)."""
        return self.path


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def is_type(value: Any, name: str) -> bool:
    """True when ``value`` is of JSON type ``name``."""
    return bool(_TYPES[name](value))


def _length_word(kind: str, bound: int) -> str:
    if kind in ("minLength", "minItems"):
        return "should be non-empty" if bound == 1 else "is too short"
    return "is expected to be empty" if bound == 0 else "is too long"


def _simple(key: str, value: Any, inst: Any) -> str | None:
    """The message for a failed single-value keyword, None when ``inst`` passes it."""
    if key == "type":
        names = value if isinstance(value, list) else [value]
        if any(is_type(inst, n) for n in names):
            return None
        return f"{inst!r} is not of type {', '.join(repr(n) for n in names)}"
    if key == "enum":
        return None if any(_equal(inst, v) for v in value) else f"{inst!r} is not one of {value!r}"
    if key == "const":
        return None if _equal(inst, value) else f"{value!r} was expected"
    if key == "pattern":
        if not isinstance(inst, str) or re.search(value, inst):
            return None
        return f"{inst!r} does not match {value!r}"
    if key in ("minimum", "maximum"):
        if not is_type(inst, "number") or (inst >= value if key == "minimum" else inst <= value):
            return None
        word = "less than the minimum" if key == "minimum" else "greater than the maximum"
        return f"{inst!r} is {word} of {value!r}"
    if key in ("minLength", "maxLength", "minItems", "maxItems"):
        kind = str if key.endswith("Length") else list
        if not isinstance(inst, kind) or (
                len(inst) >= value if key.startswith("min") else len(inst) <= value):
            return None
        return f"{inst!r} {_length_word(key, value)}"
    raise KeyError(key)


def _valid(inst: Any, schema: dict[str, Any]) -> bool:
    return next(iter_errors(inst, schema), None) is None


def _object(key: str, value: Any, inst: dict[str, Any],
            schema: dict[str, Any]) -> Iterator[SchemaError]:
    if key == "properties":
        for name, sub in value.items():
            if name in inst:
                for err in iter_errors(inst[name], sub):
                    err.path.appendleft(name)
                    yield err
    elif key == "required":
        for name in value:
            if name not in inst:
                yield SchemaError(key, value, inst, schema, f"{name!r} is a required property")
    elif key == "additionalProperties" and value is False:
        extra = [k for k in inst if k not in schema.get("properties", {})]
        if extra:
            verb = "was" if len(extra) == 1 else "were"
            names = ", ".join(repr(k) for k in extra)
            yield SchemaError(key, value, inst, schema,
                              f"Additional properties are not allowed ({names} {verb} unexpected)")


def _keyword(key: str, value: Any, inst: Any, schema: dict[str, Any]) -> Iterator[SchemaError]:
    if key in ("properties", "required", "additionalProperties"):
        if isinstance(inst, dict):
            yield from _object(key, value, inst, schema)
    elif key == "items":
        for i, item in enumerate(inst if isinstance(inst, list) else ()):
            for err in iter_errors(item, value):
                err.path.appendleft(i)
                yield err
    elif key in ("anyOf", "oneOf"):
        passed = sum(_valid(inst, sub) for sub in value)
        if passed == 0:
            yield SchemaError(key, value, inst, schema,
                              f"{inst!r} is not valid under any of the given schemas")
        elif key == "oneOf" and passed > 1:
            yield SchemaError(key, value, inst, schema, f"{inst!r} is valid under each of them")
    elif key == "not":
        if _valid(inst, value):
            yield SchemaError(key, value, inst, schema, f"{inst!r} should not be valid under "
                              f"{value!r}")
    elif key == "if":
        branch = "then" if _valid(inst, value) else "else"
        if branch in schema:
            yield from iter_errors(inst, schema[branch])
    elif key in ("allOf",):
        for sub in value:
            yield from iter_errors(inst, sub)
    elif key not in ("then", "else") and key not in _IGNORED:
        message = _simple(key, value, inst)
        if message is not None:
            yield SchemaError(key, value, inst, schema, message)


def iter_errors(inst: Any, schema: dict[str, Any]) -> Iterator[SchemaError]:
    """Every error of ``inst`` against ``schema``, in the schema's keyword order."""
    for key, value in schema.items():
        yield from _keyword(key, value, inst, schema)
