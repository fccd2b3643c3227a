"""The one repair turn: show the model its spec and the errors, ask for a corrected spec only."""

from __future__ import annotations

import json
from typing import Any

REPAIR_MARKER = "Fix the widget spec"
"""First words of every repair message (the demo model and tests recognise the turn by them)."""


def repair_message(spec: Any, errors: list[str]) -> str:
    """The user turn asking the model to correct ``spec`` given validation ``errors``."""
    if isinstance(spec, str):  # a block that never parsed: show it as the model wrote it
        shown = spec.strip()
    else:
        try:
            shown = json.dumps(spec, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            shown = repr(spec)
    if len(shown) > 4000:
        shown = shown[:4000] + " …"
    lines = "\n".join(f"- {e}" for e in errors[:3]) or "- (no details)"
    return (f"{REPAIR_MARKER} below. It failed validation against the live DataFrames:\n"
            f"{lines}\n\nSpec:\n```json\n{shown}\n```\n"
            "Reply with only the corrected spec in one ```json block, using only frames and "
            "columns from the data context. No prose, no code.")
