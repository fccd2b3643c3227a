"""Credentials: Secret never prints, the chain's order, config-file profiles, notebook context,
OAuth M2M against the simulator's token endpoint, and scrubbing."""

from __future__ import annotations

import asyncio
import logging
import pickle
from pathlib import Path
from typing import ClassVar

import pytest

from dbchat_magic.auth import (
    NotebookContextProvider,
    Secret,
    resolve_credentials,
    scrub,
    scrubbed_logger,
)
from dbchat_magic.config import Settings
from dbchat_magic.errors import AuthError
from dbchat_magic.simulator import Simulator

TOKEN = "dapi" + "00112233445566778899aabbccddeeff"  # built: no token-shaped literal


def headers(provider: object) -> dict[str, str]:
    return asyncio.run(provider.headers())  # type: ignore[attr-defined]


def test_secret_never_reveals_itself() -> None:
    s = Secret(TOKEN)
    for shown in (repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", format(s, ""), repr([s])):
        assert TOKEN not in shown
    assert s.reveal() == TOKEN
    assert s == Secret(TOKEN) and s != Secret("other-token")
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_scrub_removes_known_secrets_and_token_shapes() -> None:
    Secret("my-custom-secret-value")
    text = ("sent Authorization: Bearer abc.def-123 with my-custom-secret-value and "
            "dapi" "0123456789abcdef0123456789abcdef-2 and {\"access_token\": \"xyz\"}")
    out = scrub(text)
    for leaked in ("abc.def-123", "my-custom-secret-value", "0123456789abcdef", "xyz"):
        assert leaked not in out
    assert "Bearer ****" in out


def test_scrubbed_logger(caplog: pytest.LogCaptureFixture) -> None:
    log = scrubbed_logger("dbchat_magic.test_auth")
    secret = Secret("log-secret-123")
    with caplog.at_level(logging.INFO, logger="dbchat_magic.test_auth"):
        log.info("header was %s", f"Bearer {secret.reveal()}")
    assert "log-secret-123" not in caplog.text and "Bearer ****" in caplog.text


def test_explicit_token_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", "https://env-host")
    monkeypatch.setenv("DATABRICKS_TOKEN", "env-token-1")
    p = resolve_credentials(None, token=TOKEN)
    assert p.source == "explicit token argument" and p.host == "https://env-host"
    assert headers(p) == {"Authorization": f"Bearer {TOKEN}"}
    p = resolve_credentials(Settings(host="https://settings-host"))
    assert p.source == "environment (DATABRICKS_TOKEN)" and p.host == "https://settings-host"
    assert headers(p)["Authorization"] == "Bearer env-token-1"
    assert resolve_credentials(None, host="adb-9.net/").host == "https://adb-9.net"


def test_token_without_host_is_an_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    with pytest.raises(AuthError, match="DATABRICKS_HOST") as info:
        resolve_credentials()
    assert TOKEN not in str(info.value)


def _write_cfg(path: Path) -> None:
    path.write_text("[DEFAULT]\nhost = https://default-host\ntoken = cfg-default-token\n\n"
                    "[staging]\nhost = https://staging-host\ntoken = cfg-staging-token\n")


def test_databrickscfg_profiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "databrickscfg"
    _write_cfg(cfg)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    p = resolve_credentials()
    assert p.source == f"{cfg} profile [DEFAULT]" and p.host == "https://default-host"
    assert headers(p)["Authorization"] == "Bearer cfg-default-token"
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "staging")
    p = resolve_credentials()
    assert p.host == "https://staging-host" and "[staging]" in p.source
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "prod")
    with pytest.raises(AuthError, match=r"profile \[prod\].*profiles: staging"):
        resolve_credentials()
    monkeypatch.setenv("DATABRICKS_TOKEN", "env-wins")
    monkeypatch.setenv("DATABRICKS_HOST", "https://h")
    assert resolve_credentials().source == "environment (DATABRICKS_TOKEN)"


class _Opt:
    def __init__(self, value: str) -> None:
        self.value = value

    def get(self) -> str:
        return self.value


class FakeDbutils:
    """Stands in for Databricks' dbutils (no Databricks runtime exists here): rotates its token."""

    def __init__(self) -> None:
        self.calls = 0
        self.notebook = self
        self.entry_point = self

    def __call__(self) -> FakeDbutils:  # dbutils...getDbutils().notebook() is a call
        return self

    def getDbutils(self) -> FakeDbutils:
        return self

    def getContext(self) -> FakeDbutils:
        return self

    def apiUrl(self) -> _Opt:
        return _Opt("https://nb-host.cloud.databricks.com")

    def apiToken(self) -> _Opt:
        self.calls += 1
        return _Opt(f"nb-token-{self.calls}")


def test_notebook_context_reads_token_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDbutils()
    p = NotebookContextProvider(dbutils_getter=lambda: fake)
    assert p.host == "https://nb-host.cloud.databricks.com"
    first, second = headers(p), headers(p)
    assert first != second  # re-read each request: a rotated token is picked up
    import __main__
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    monkeypatch.setattr(__main__, "dbutils", fake, raising=False)
    assert resolve_credentials().source == "Databricks notebook context"


def test_notebook_context_without_dbutils(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    with pytest.raises(AuthError, match="no dbutils"):
        resolve_credentials()


def test_no_credentials_lists_what_was_tried() -> None:
    with pytest.raises(AuthError) as info:
        resolve_credentials()
    msg = str(info.value)
    assert "DATABRICKS_TOKEN" in msg and "databrickscfg" in msg and "\n" not in msg


def test_oauth_m2m_against_simulator(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    client_id, secret = sim.oauth_client
    monkeypatch.setenv("DATABRICKS_HOST", sim.url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", client_id)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", secret)
    p = resolve_credentials()
    assert "OAuth M2M" in p.source
    assert headers(p) == {"Authorization": f"Bearer {sim.token}"}
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "wrong-secret-value")
    with pytest.raises(AuthError, match="refused") as info:
        headers(resolve_credentials())
    assert "wrong-secret-value" not in str(info.value)


def test_sdk_not_imported_when_not_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in [n for n in sys.modules if n.split(".")[0] == "databricks"]:
        monkeypatch.delitem(sys.modules, name)  # an earlier test may have imported the SDK
    resolve_credentials(None, token=TOKEN, host="https://h")
    assert "databricks.sdk" not in sys.modules


class _FakeSdkConfig:
    """Stands in for databricks.sdk.core.Config (the SDK is an optional extra, not installed)."""

    made: ClassVar[list[dict]] = []

    def __init__(self, **kw: object) -> None:
        _FakeSdkConfig.made.append(kw)
        if kw.get("host") == "https://broken":
            raise ValueError(f"cannot configure: Bearer {TOKEN} rejected\nmore detail")
        self.host = "https://sdk-host.cloud.databricks.com/"
        self.calls = 0

    def authenticate(self) -> dict[str, str]:
        self.calls += 1
        return {"Authorization": f"Bearer sdk-{self.calls}"}


def _install_fake_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.machinery
    import sys
    import types

    pkg, sdk, core = (types.ModuleType(n) for n in ("databricks", "databricks.sdk",
                                                   "databricks.sdk.core"))
    for mod in (pkg, sdk, core):
        mod.__spec__ = importlib.machinery.ModuleSpec(mod.__name__, None)
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
    core.Config = _FakeSdkConfig  # type: ignore[attr-defined]


def test_sdk_used_last_with_short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_sdk(monkeypatch)
    with pytest.raises(AuthError, match="no Databricks credentials"):
        resolve_credentials()  # nothing names a workspace: the SDK is not even asked
    assert _FakeSdkConfig.made == []
    monkeypatch.setenv("DATABRICKS_HOST", "https://given")
    p = resolve_credentials()
    assert p.source == "databricks-sdk unified auth"
    assert p.host == "https://sdk-host.cloud.databricks.com"
    assert headers(p) != headers(p)  # authenticate() runs per request (token refresh)
    made = _FakeSdkConfig.made[-1]
    assert made["host"] == "https://given" and made["http_timeout_seconds"] <= 10
    monkeypatch.setenv("DATABRICKS_HOST", "https://broken")
    with pytest.raises(AuthError) as info:
        resolve_credentials()
    msg = str(info.value)
    assert "databricks-sdk found no usable credentials: cannot configure" in msg
    assert TOKEN not in msg and "\n" not in msg
