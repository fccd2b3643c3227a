"""Assemble bench/RESULTS.md from the per-area tables in bench/results/*.md."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).parent
PACKAGES = ("httpx", "httpx-sse", "openai", "orjson", "pandas", "polars", "pyspark", "altair",
            "vl-convert-python", "vegafusion", "ipykernel", "ipywidgets", "ipython")
ORDER = ("engine", "wire_memory", "frontend", "lifetime", "markup", "context", "charts",
         "first_chart", "load")


def _version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "not installed"


def main() -> None:
    """Write bench/RESULTS.md."""
    parts = sorted((HERE / "results").glob("*.md"),
                   key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    head = [
        "# Benchmark results",
        "",
        "Run by hand: `.venv/bin/python bench/<script>.py`, then",
        "`.venv/bin/python bench/assemble.py`;",
        "each section below is written by its script into `bench/results/`.",
        "",
        f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- python: {sys.version.split()[0]}",
        "- versions: " + ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
        "",
    ]
    body = [p.read_text().rstrip() + "\n" for p in parts]
    (HERE / "RESULTS.md").write_text("\n".join(head) + "\n" + "\n".join(body))


if __name__ == "__main__":
    main()
