"""Guard for the raw Vega-Lite escape hatch: an allow-list (`vegalite_views.TOP`). Only known-safe
keys and value types pass; anything that fetches, links, runs an expression or brings its own data
is rejected with a "spec.path: message" line (docs/design.md: specs, trust). Our data is always
injected."""

from __future__ import annotations

import difflib
import json
from typing import Any

from dbchat_magic.specs._allow import Ctx
from dbchat_magic.specs._caps import MAX_DEPTH, MAX_SPEC_CHARS, cap_errors, depth_of
from dbchat_magic.specs._frames import FrameInfo

__all__ = ["MAX_SPEC_CHARS", "guard_errors", "referenced_fields"]


def _allow_list(vl: dict[str, Any]) -> Ctx:
    from dbchat_magic.specs._vegalite_views import TOP

    ctx = Ctx()
    TOP({k: v for k, v in vl.items() if k != "$schema"}, "spec", ctx)  # ours replaces $schema
    return ctx


def referenced_fields(vl: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(fields the spec reads, fields its transforms create)."""
    if depth_of(vl) > MAX_DEPTH:
        return set(), set()
    ctx = _allow_list(vl)
    return ctx.fields, ctx.made


def _column_errors(fields: set[str], made: set[str], info: FrameInfo) -> list[str]:
    errs: list[str] = []
    for f in sorted(fields - made):
        base = f.split(".")[0].replace("\\", "")
        if base not in info.columns:
            hint = difflib.get_close_matches(base, list(info.columns), n=1)
            errs.append(f"spec: field {base!r} is not a column of {info.name}"
                        + (f"; did you mean {hint[0]!r}?" if hint else ""))
    return errs


def guard_errors(vl: Any, info: FrameInfo | None = None) -> list[str]:
    """Every reason to reject ``vl`` ("spec.path: message"); empty when it is safe to render."""
    if not isinstance(vl, dict):
        return ["spec: must be a Vega-Lite object"]
    if depth_of(vl) > MAX_DEPTH:
        return [f"spec: nested more than {MAX_DEPTH} levels deep"]
    if len(json.dumps(vl, default=str)) > MAX_SPEC_CHARS:
        return [f"spec: longer than {MAX_SPEC_CHARS:,} characters"]
    ctx = _allow_list(vl)
    errs = ctx.errs or cap_errors({k: v for k, v in vl.items() if k != "$schema"}, raw=True)
    if not errs and info is not None:
        errs = _column_errors(ctx.fields, ctx.made, info)
    return errs
