"""Check that installing dbchat-magic leaves a Databricks runtime's pinned packages alone.

Run with the stack's own Python (stdlib only):

    python ci/check_pins.py snapshot CONSTRAINTS OUT.json     versions of the pinned names now
    python ci/check_pins.py compare CONSTRAINTS BEFORE AFTER  fail if a pinned version moved, or
                                                              differs from its pin
    python ci/check_pins.py report CONSTRAINTS PIP_REPORT     fail if ``pip install --dry-run
                                                              --report`` would install a pinned name

Exit status 0 when all is well, 1 with one line per offending package otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata
from pathlib import Path


def canonical(name: str) -> str:
    """PEP 503 name: ``Jinja2`` → ``jinja2``, ``typing_extensions`` → ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a constraints file (comments and blanks skipped)."""
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise SystemExit(f"{path}: not a name==version pin: {raw!r}")
        pins[canonical(name)] = version.strip()
    return pins


def installed() -> dict[str, str]:
    """Every distribution on this interpreter's path: canonical name → version."""
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def snapshot(pins: dict[str, str], out: Path) -> int:
    """Write the installed version (or null) of every pinned name."""
    have = installed()
    out.write_text(json.dumps({name: have.get(name) for name in sorted(pins)}, indent=1))
    return 0


def compare(pins: dict[str, str], before: dict[str, str | None],
            after: dict[str, str | None]) -> int:
    """Fail on a pinned package that changed, vanished, or is not at its runtime version."""
    bad = []
    for name, want in sorted(pins.items()):
        was, now = before.get(name), after.get(name)
        if was != now:
            bad.append(f"{name}: {was} -> {now} (runtime pins {want})")
        elif now is not None and now != want:
            bad.append(f"{name}: installed {now}, runtime pins {want}")
    for line in bad:
        print("pin moved:", line)
    print(f"{len(pins) - len(bad)}/{len(pins)} pinned packages unchanged")
    return 1 if bad else 0


def report(pins: dict[str, str], pip_report: dict) -> int:
    """Fail if pip, left alone (no constraints), would install or replace a pinned package."""
    planned = {canonical(i["metadata"]["name"]): i["metadata"]["version"]
               for i in pip_report.get("install", [])}
    bad = sorted(name for name in planned if name in pins)
    for name in bad:
        print(f"pip would change {name}: runtime {pins[name]} -> {planned[name]}")
    print("pip without constraints would install:",
          ", ".join(f"{n}=={v}" for n, v in sorted(planned.items())) or "nothing")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    """Dispatch ``snapshot`` / ``compare`` / ``report``."""
    if len(argv) < 3:
        print(__doc__)
        return 2
    command, pins = argv[0], read_pins(Path(argv[1]))
    if command == "snapshot":
        return snapshot(pins, Path(argv[2]))
    if command == "compare" and len(argv) == 4:
        return compare(pins, json.loads(Path(argv[2]).read_text()),
                       json.loads(Path(argv[3]).read_text()))
    if command == "report":
        return report(pins, json.loads(Path(argv[2]).read_text()))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
