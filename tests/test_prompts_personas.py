"""Personas: built-ins, registration from Python, and files in the config directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dbchat_magic.errors import ConfigError
from dbchat_magic.prompts import get_persona, list_personas, register_persona, unregister_persona


@pytest.fixture
def config_dir() -> Path:
    return Path(os.environ["DBCHAT_CONFIG_DIR"])


def test_builtins_exist_and_default_is_analyst():
    assert list_personas()[:3] == ["analyst", "engineer", "concise"]
    assert get_persona().name == "analyst"
    assert "data analyst" in get_persona("analyst").text
    assert get_persona("concise").source == "built-in"


def test_register_from_python_wins_and_can_be_removed():
    try:
        register_persona("pirate", "  You answer like a pirate.  ")
        register_persona("analyst", "Overridden analyst.")
        assert get_persona("pirate").text == "You answer like a pirate."
        assert str(get_persona("analyst")) == "Overridden analyst."
        assert "pirate" in list_personas()
    finally:
        unregister_persona("pirate")
        unregister_persona("analyst")
    assert "pirate" not in list_personas()
    assert "data analyst" in get_persona("analyst").text


def test_personas_from_markdown_files_and_json(config_dir):
    (config_dir / "personas").mkdir()
    (config_dir / "personas" / "finance.md").write_text("You are a CFO's analyst.\n")
    (config_dir / "personas.json").write_text(json.dumps(
        {"sql": "You write Spark SQL.", "teacher": {"text": "You explain slowly."}}))
    assert {"finance", "sql", "teacher"} <= set(list_personas())
    finance = get_persona("finance")
    assert finance.text == "You are a CFO's analyst."
    assert finance.source.endswith("finance.md")
    assert get_persona("teacher").text == "You explain slowly."
    (config_dir / "personas" / "finance.md").write_text("Edited.")
    assert get_persona("finance").text == "Edited."  # files are re-read


def test_unknown_persona_lists_known_ones():
    with pytest.raises(ConfigError) as info:
        get_persona("nope")
    assert str(info.value).startswith("Unknown persona 'nope'. Known personas: analyst, engineer")


def test_bad_names_and_bad_json_give_short_messages(config_dir):
    with pytest.raises(ConfigError, match="invalid"):
        register_persona("has space", "x")
    with pytest.raises(ConfigError, match="non-empty"):
        register_persona("blank", "   ")
    (config_dir / "personas.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"personas\.json: not valid JSON"):
        list_personas()
