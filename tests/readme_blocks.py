"""The fenced code blocks of one README.md section, in order (tests run them verbatim)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```\n", re.S | re.M)


def section(title: str) -> str:
    """The text of ``## title`` (up to the next ``## ``)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def blocks(text: str) -> list[str]:
    """The fenced code blocks of ``text``."""
    return _FENCE.findall(text)
