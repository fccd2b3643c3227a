"""Read a data-context section back into frames: the format contract, executable.

Used by tests, and usable by anything that must understand the context the model saw (e.g. a demo
model). ``strict=True`` raises `ValueError` on any line outside the grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADER = re.compile(r"^### (\w+) \((.+), (\d+|\?) rows × (\d+) columns\)$")


@dataclass
class ParsedFrame:
    """One ``###`` section: header fields, column dtypes and hints, notes and sample-row lines."""

    name: str
    kind: str
    rows: str
    n_columns: int
    columns: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)


def parse_data_context(text: str, *, strict: bool = False) -> dict[str, ParsedFrame]:
    """Frames by variable name, in the order they appear."""
    frames: dict[str, ParsedFrame] = {}
    current: ParsedFrame | None = None
    in_samples = False

    def bad(line: str) -> None:
        if strict:
            raise ValueError(f"unexpected data-context line: {line[:80]!r}")

    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            current = ParsedFrame(match[1], match[2], match[3], int(match[4]))
            frames[current.name] = current
            in_samples = False
        elif current is None or not line:
            continue
        elif line == "sample rows:":
            in_samples = True
        elif in_samples:
            if line.startswith("{") and line.endswith("}"):
                current.samples.append(line)
            else:
                bad(line)
        elif line.startswith("- "):
            name, sep, rest = line[2:].partition(": ")
            dtype, _, hints = rest.partition("; ")
            if not sep or not dtype:
                bad(line)
                continue
            current.columns[name] = dtype
            current.hints[name] = hints
        elif line.startswith("(") or line.startswith("Other DataFrames"):
            current.notes.append(line)
        else:
            bad(line)
    return frames
