"""Shared fixtures: an isolated config dir, no real credentials, and a running simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dbchat_magic.auth import CHAIN_ENV as _CREDENTIAL_VARS
from dbchat_magic.simulator import Simulator


@pytest.fixture(autouse=True)
def _isolated_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own config dir and starts with no Databricks credentials in the env."""
    cfg = tmp_path_factory.mktemp("dbchat-config")
    monkeypatch.setenv("DBCHAT_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg / "no-databrickscfg"))
    for name in _CREDENTIAL_VARS:
        if name != "DATABRICKS_CONFIG_FILE":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A fresh simulator on 127.0.0.1 (unpaced, default endpoints)."""
    with Simulator() as s:
        yield s
