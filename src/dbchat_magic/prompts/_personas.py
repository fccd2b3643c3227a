"""Personas: the opening of the system message. Built-ins, plus user personas registered from
Python (`register_persona`) or from files in the config directory::

    $DBCHAT_CONFIG_DIR/personas/<name>.md      (default ~/.config/dbchat-magic)
    $DBCHAT_CONFIG_DIR/personas.json           {"name": "text", ...} or {"name": {"text": ...}}

Precedence: registered in Python > files > built-ins. Files are re-read on each lookup, so an edit
takes effect at the next question.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from dbchat_magic.config import config_dir
from dbchat_magic.errors import ConfigError

DEFAULT_PERSONA = "analyst"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Persona:
    """A named system-prompt opening; ``source`` says where it came from."""

    name: str
    text: str
    source: str = "built-in"

    def __str__(self) -> str:
        return self.text


BUILTINS: dict[str, str] = {
    "analyst": (
        "You are a data analyst working with a data scientist in a Jupyter or Databricks notebook. "
        "Answer questions about their data accurately and briefly, using the DataFrames described "
        "in the data context. Name the frame and columns you rely on, say when the data cannot "
        "answer a question, and never invent columns or values. Prefer a chart or table when it "
        "shows the answer better than prose."
    ),
    "engineer": (
        "You are a senior data engineer helping in a Jupyter or Databricks notebook. Focus on "
        "data quality, schemas, types, nulls, joins, partitioning and efficient pandas, polars or "
        "Spark code. Point out risks (duplicates, skew, full scans) and give concrete, runnable "
        "suggestions that use the frames and columns in the data context."
    ),
    "concise": (
        "You are a terse assistant in a data notebook. Answer in as few words as possible: a "
        "number, a short list or one sentence. Use only the frames and columns in the data "
        "context; say so plainly if the data cannot answer."
    ),
}
_registered: dict[str, Persona] = {}
_lock = threading.Lock()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"persona name {name!r} is invalid: use letters, digits, '_', '-', '.' "
                          "(at most 64 characters)")
    return name


def register_persona(name: str, text: str) -> Persona:
    """Add or replace a persona for this session (it wins over files and built-ins)."""
    _check_name(name)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"persona '{name}' needs a non-empty text")
    persona = Persona(name, text.strip(), "registered")
    with _lock:
        _registered[name] = persona
    return persona


def unregister_persona(name: str) -> None:
    """Forget a persona registered from Python (files and built-ins are untouched)."""
    with _lock:
        _registered.pop(name, None)


def _from_files(directory: Path) -> dict[str, Persona]:
    found: dict[str, Persona] = {}
    path = directory / "personas.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f'{path}: expected an object like {{"name": "persona text"}}')
        for name, value in data.items():
            text = value.get("text") if isinstance(value, dict) else value
            if isinstance(text, str) and text.strip() and _NAME.fullmatch(str(name)):
                found[name] = Persona(name, text.strip(), str(path))
    folder = directory / "personas"
    if folder.is_dir():
        for file in sorted(folder.glob("*.md")):
            try:
                text = file.read_text(encoding="utf-8").strip()
            except OSError:
                continue
            if text and _NAME.fullmatch(file.stem):
                found[file.stem] = Persona(file.stem, text, str(file))
    return found


def _all() -> dict[str, Persona]:
    personas = {name: Persona(name, text) for name, text in BUILTINS.items()}
    personas.update(_from_files(config_dir()))
    with _lock:
        personas.update(_registered)
    return personas


def list_personas() -> list[str]:
    """Names of every persona: built-ins first, then the user's in alphabetical order."""
    names = list(_all())
    return [n for n in BUILTINS if n in names] + sorted(n for n in names if n not in BUILTINS)


def get_persona(name: str | None = None) -> Persona:
    """The persona called ``name`` (default "analyst"); `ConfigError` lists the known names."""
    name = name or DEFAULT_PERSONA
    personas = _all()
    if name not in personas:
        known = ", ".join(list_personas())
        raise ConfigError(f"Unknown persona '{name}'. Known personas: {known}.")
    return personas[name]
