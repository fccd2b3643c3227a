"""Brace-safe ``{var}`` interpolation of kernel variables into a question; it evaluates nothing.

Rules:
- ``{name}``, ``{name.attr}``, ``{name[0]}``, ``{name['key']}`` are replaced by ``str(value)``
  only when the expression resolves in the user namespace. Resolution reads *stored* values and
  runs no code the user's objects define:
  - ``.attr`` is looked up statically (`inspect.getattr_static`: instance, class and module
    ``__dict__``; no ``__getattr__``/``__getattribute__``). A property, method or any other
    descriptor is refused (it would compute); a ``__slots__`` field is read (plain storage).
  - ``[key]`` works only on built-in dict, list, tuple and str (or subclasses that keep the
    built-in ``__getitem__``); a dict is searched by its stored keys, so no ``__hash__``/``__eq__``
    /``__missing__`` of the user's runs.
  - A segment starting with ``_`` (private or dunder, e.g. ``{obj.__class__}``) is never read.
  Only the final ``str(value)`` is the object's own (a DataFrame prints as a DataFrame).
- Anything else in braces (JSON, dict literals, format specs, ``{ x }`` with spaces) is left
  untouched.
- ``{{name}}`` is an escape: it becomes the literal text ``{name}``. Other ``{{``/``}}``
  (nested JSON) are left as they are.
- Text inside Markdown code (```` ``` ```` fences and `` `inline` `` spans) is never touched, so
  pasted f-string code passes through as written.
- Unknown or refused placeholders are left as written, with a one-line note in
  `Interpolated.notes` saying why.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_VALUE_CHARS = 20_000

_EXPR = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[(?:-?\d+|'[^'\]]*'|\"[^\"\]]*\")\])*"
_PLACEHOLDER = re.compile(r"\{\{(?P<escaped>" + _EXPR + r")\}\}|\{(?P<expr>" + _EXPR + r")\}")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)
_STEP = re.compile(r"\.(?P<attr>[A-Za-z_]\w*)|\[(?P<index>-?\d+|'[^']*'|\"[^\"]*\")\]")
_MISSING = object()
_SUBSCRIPTABLE = (dict, list, tuple, str)
_MRO = type.__dict__["__mro__"].__get__  # a class's MRO without its metaclass's help
_CLASS_DICT = type.__dict__["__dict__"].__get__  # a class's own namespace, likewise


@dataclass(frozen=True)
class Refused:
    """A placeholder that resolution will not read, and why (one line)."""

    reason: str


@dataclass
class Interpolated:
    """The interpolated text and notes about placeholders that were left as written."""

    text: str
    replaced: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def resolve(expr: str, namespace: Mapping[str, Any]) -> Any:
    """Value of a ``name(.attr|[literal])*`` expression, `_MISSING`, or a `Refused` reason."""
    head = re.match(r"[A-Za-z_]\w*", expr)
    if head is None:
        return _MISSING
    if head.group(0).startswith("_"):
        return Refused(f"names starting with '_' are not read ({head.group(0)!r})")
    if head.group(0) not in namespace:
        return _MISSING
    value = namespace[head.group(0)]
    for step in _STEP.finditer(expr, head.end()):
        if step.group("attr") is not None:
            value = _attribute(value, step.group("attr"))
        else:
            raw = step.group("index")
            value = _item(value, raw[1:-1] if raw[0] in "'\"" else int(raw))
        if value is _MISSING or isinstance(value, Refused):
            return value
    return value


def _attribute(value: Any, name: str) -> Any:
    """``value.name`` when it is stored data; never a descriptor's or ``__getattr__``'s result."""
    if name.startswith("_"):
        return Refused(f"private and dunder attributes are not read ({name!r})")
    found = inspect.getattr_static(value, name, _MISSING)
    if found is _MISSING:
        return _MISSING
    if type(found) is types.MemberDescriptorType:  # a __slots__ field: C storage, no user code
        try:
            return found.__get__(value, type(value))
        except (AttributeError, TypeError):
            return _MISSING
    if _defines(type(found), "__get__"):
        return Refused(f"{name!r} is computed (a property, method or other descriptor); "
                       "only stored values are read")
    return found


def _item(value: Any, key: int | str) -> Any:
    """``value[key]`` for built-in dict/list/tuple/str whose ``__getitem__`` is the built-in one."""
    mro = _MRO(type(value))
    base = next((b for b in _SUBSCRIPTABLE if b in mro), None)
    if base is None or _owner(mro, "__getitem__") is not base:
        return Refused(f"only dict, list, tuple and str values are subscripted "
                       f"(not {type(value).__name__})")
    if base is dict:
        for stored, item in dict.items(value):  # exact-type comparison: no user __eq__/__hash__
            if type(stored) is type(key) and stored == key:
                return item
        return _MISSING
    if type(key) is not int:
        return Refused(f"a {base.__name__} takes a whole-number index (got {key!r})")
    try:
        return base.__getitem__(value, key)
    except IndexError:
        return _MISSING


def _owner(mro: tuple[type, ...], name: str) -> type | None:
    """The first class in ``mro`` whose own namespace defines ``name``."""
    return next((klass for klass in mro if name in _CLASS_DICT(klass)), None)


def _defines(klass: type, name: str) -> bool:
    """True when ``klass`` or a base defines ``name`` (read statically)."""
    return _owner(_MRO(klass), name) is not None


def interpolate(text: str, namespace: Mapping[str, Any]) -> Interpolated:
    """Replace resolvable ``{expr}`` placeholders outside Markdown code; see the module rules."""
    out = Interpolated(text="")
    pieces: list[str] = []
    pos = 0
    for code in _CODE.finditer(text):
        pieces.append(_interpolate_prose(text[pos:code.start()], namespace, out))
        pieces.append(code.group(0))
        pos = code.end()
    pieces.append(_interpolate_prose(text[pos:], namespace, out))
    out.text = "".join(pieces)
    return out


def _interpolate_prose(text: str, namespace: Mapping[str, Any], out: Interpolated) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped") is not None:
            return "{" + match.group("escaped") + "}"
        expr = match.group("expr")
        value = resolve(expr, namespace)
        if value is _MISSING or isinstance(value, Refused):
            why = (value.reason if isinstance(value, Refused)
                   else "it does not resolve in the notebook's variables")
            note = f"{{{expr}}} left as written: {why}"
            if note not in out.notes:
                out.notes.append(note)
            return match.group(0)
        rendered = str(value)
        if len(rendered) > MAX_VALUE_CHARS:
            rendered = rendered[:MAX_VALUE_CHARS] + " …"
            out.notes.append(f"{{{expr}}} was cut to {MAX_VALUE_CHARS:,} characters")
        out.replaced.append(expr)
        return rendered

    return _PLACEHOLDER.sub(substitute, text)
