"""The settings row: every change is persisted and applies next time; profiles as the fallback."""

from __future__ import annotations

import pytest

from dbchat_magic.config import Settings
from dbchat_magic.ui._settings_row import SettingsRow

pytest.importorskip("ipywidgets")


def _row() -> SettingsRow:
    return SettingsRow()


def test_changes_are_persisted_at_once() -> None:
    row = _row()
    row.temperature.value = 0.65
    row.max_tokens.value = 321
    row.persona.value = next(p for p in row.persona.options if p != row.persona.value)
    saved = Settings.load()
    assert saved.temperature == pytest.approx(0.65)
    assert saved.max_tokens == 321
    assert saved.persona == row.persona.value
    assert "applies to the next question" in row.note.value


def test_workspace_names_fill_the_dropdown_and_picking_one_saves_it() -> None:
    row = _row()
    row.set_endpoint_names(["alpha-chat", "beta-chat"])
    labels = [label for label, _ in row.endpoint.options]
    assert labels[:2] == ["alpha-chat", "beta-chat"]
    assert Settings().endpoint in labels  # the current endpoint stays selectable
    assert row.endpoint.value == ("endpoint", Settings().endpoint)  # refilling saved nothing
    assert Settings.load().to_dict() == Settings().to_dict()
    row.endpoint.value = ("endpoint", "beta-chat")
    assert Settings.load().endpoint == "beta-chat"


def test_profiles_are_offered_and_applied() -> None:
    Settings().with_profile("fast", "tiny-chat", temperature=0.9).save()
    row = _row()
    assert ("fast (profile: tiny-chat)", ("profile", "fast")) in list(row.endpoint.options)
    row.endpoint.value = ("profile", "fast")
    saved = Settings.load()
    assert (saved.endpoint, saved.profile, saved.temperature) == ("tiny-chat", "fast", 0.9)
    assert row.temperature.value == pytest.approx(0.9)  # the row shows what the profile set


def test_a_failed_save_is_reported() -> None:
    row = SettingsRow(save=lambda s: (_ for _ in ()).throw(OSError("read-only file system")))
    row.temperature.value = 1.1
    assert "not saved: read-only file system" in row.note.value
    assert Settings.load().temperature == Settings().temperature


def test_endpoint_list_failure_keeps_profiles_and_says_why() -> None:
    # no credentials in the environment: the list cannot be fetched
    Settings().with_profile("b", "model-b").save()
    row = _row()
    row.load_endpoints()
    assert row.endpoints_settled.wait(30)
    assert "endpoint list unavailable" in row.note.value
    assert ("profile", "b") in [v for _, v in row.endpoint.options]
