"""Settings: defaults, validation naming the field, profiles, and secret-free 0600 persistence."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from dbchat_magic.config import Profile, Settings, default_path
from dbchat_magic.errors import ConfigError


def test_defaults() -> None:
    s = Settings()
    assert (s.endpoint, s.url_style, s.temperature, s.max_tokens) == (
        "databricks-meta-llama-3-3-70b-instruct", "databricks", 0.2, 1024)
    assert (s.connect_timeout, s.first_byte_timeout, s.gap_timeout, s.total_timeout) == (
        10, 60, 30, 120)
    assert (s.max_retries, s.persona, s.system_role, s.spec_repair, s.chart_renderer) == (
        3, "analyst", True, True, "vegalite")
    assert (s.history_budget_tokens, s.context_budget_tokens, s.frame_budget_tokens) == (
        3000, 1500, 400)
    assert (s.rate_limit_rpm, s.rate_limit_tpm, s.rate_limit_mode) == (None, None, "wait")


@pytest.mark.parametrize(("field", "value"), [
    ("temperature", 5), ("temperature", "hot"), ("temperature", float("nan")),
    ("max_tokens", 0), ("max_tokens", 1.5), ("max_retries", -1), ("max_retries", 99),
    ("url_style", "grpc"), ("connect_timeout", 0), ("gap_timeout", "soon"),
    ("rate_limit_rpm", 0.5), ("rate_limit_mode", "queue"), ("chart_renderer", "flash"),
    ("system_role", "maybe"), ("endpoint", ""), ("endpoint", "a/b"), ("host", "http://a b"),
    ("history_budget_tokens", -5),
])
def test_invalid_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        Settings().replace(**{field: value})
    assert field in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_field_is_rejected_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'temprature'.*temperature"):
        Settings().replace(temprature=0.1)


def test_strings_are_converted() -> None:
    s = Settings().replace(temperature="0.7", max_tokens="200", system_role="off",
                           rate_limit_rpm="30", rate_limit_tpm="off")
    assert (s.temperature, s.max_tokens, s.system_role, s.rate_limit_rpm, s.rate_limit_tpm) == (
        0.7, 200, False, 30, None)


def test_frozen_and_host_normalised() -> None:
    s = Settings(host="https://adb-1.azuredatabricks.net/ ")
    assert s.host == "https://adb-1.azuredatabricks.net"
    with pytest.raises(AttributeError):
        s.temperature = 1.0  # type: ignore[misc]


def test_profiles_a_b() -> None:
    s = (Settings().with_profile("A", "llama-a", temperature=0.0)
         .with_profile("B", "claude-b", url_style="openai", host="http://other"))
    a, b = s.use("A"), s.use("B")
    assert (a.endpoint, a.temperature, a.url_style, a.profile) == (
        "llama-a", 0.0, "databricks", "A")
    assert (b.endpoint, b.url_style, b.host, b.temperature) == (
        "claude-b", "openai", "http://other", 0.2)
    assert a.replace(endpoint="x").profile is None
    with pytest.raises(ConfigError, match=r"profile 'C' does not exist.*A, B"):
        s.use("C")
    with pytest.raises(ConfigError, match="profile temperature"):
        Profile("x", temperature=9)
    with pytest.raises(TypeError):
        s.profiles["C"] = Profile("y")  # type: ignore[index]


def test_save_load_roundtrip_mode_0600_and_config_dir(tmp_path: Path) -> None:
    s = Settings(host="https://h", temperature=0.5).with_profile("A", "e1", max_tokens=50)
    path = s.save()
    assert path == default_path()
    assert path.parent == Path(os.environ["DBCHAT_CONFIG_DIR"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Settings.load()
    assert loaded == s
    assert loaded.use("A").max_tokens == 50


def test_settings_file_never_holds_a_token(tmp_path: Path) -> None:
    token = "dapi" + "0123456789abcdef" * 2
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"endpoint": "e", "token": token, "later_field": 1}))
    s = Settings.load(path)  # a planted token and unknown keys are ignored, not loaded
    assert s.endpoint == "e"
    s.save(path)
    text = path.read_text()
    assert token not in text and '"token"' not in text
    assert not any("secret" in k or k == "token" for k in json.loads(text))


def test_missing_file_gives_defaults_and_bad_file_a_clear_error(tmp_path: Path) -> None:
    assert Settings.load(tmp_path / "absent.json") == Settings()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Settings.load(bad)
    bad.write_text(json.dumps({"temperature": 7}))
    with pytest.raises(ConfigError, match=r"bad\.json: temperature must be between 0 and 2"):
        Settings.load(bad)


def test_chart_renderer_choices_match_what_specs_can_draw() -> None:
    from dbchat_magic.config import CHART_RENDERERS
    from dbchat_magic.specs._render import RENDERERS

    assert set(CHART_RENDERERS) == set(RENDERERS)
    for name in RENDERERS:
        assert Settings().replace(chart_renderer=name).chart_renderer == name
