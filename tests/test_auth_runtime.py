"""Credentials inside Databricks: databricks-sdk's ``runtime`` strategy first, then the notebook
context; a refused source never ends the chain.

No Databricks runtime exists here. The SDK (the runtime's own pinned version on the Databricks
stacks) is real; what it imports from the runtime is a stand-in ``dbruntime`` package written to a
temporary directory with exactly the names ``databricks.sdk.runtime`` imports from it:
``dbruntime.UserNamespaceInitializer`` (present on every runtime: without it the SDK builds a remote
``dbutils`` of its own), ``dbruntime.sdk_credential_provider.init_runtime_native_auth`` and
``dbruntime.databricks_repl_context.get_context`` (each written only by the tests that need it).
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbchat_magic.auth import resolve_credentials
from dbchat_magic.errors import AuthError

RT_HOST = "https://rt-host.cloud.databricks.com"
NATIVE = """
    calls = []

    def init_runtime_native_auth():
        def inner():
            calls.append(1)
            return {"Authorization": f"Bearer native-token-{len(calls)}"}
        return "RT_HOST", inner
""".replace("RT_HOST", RT_HOST)
REPL = """
    class _Context:
        workspaceUrl = "repl-host.cloud.databricks.com"
        apiToken = "repl-token"

    def get_context():
        return _Context()
"""
RUNTIME_PACKAGE = '''"""Stand-in for the Databricks runtime's own package."""


class UserNamespaceInitializer:
    """The notebook namespace's initializer; the stand-in's namespace is empty."""

    @classmethod
    def getOrCreate(cls):
        return cls()

    def get_namespace_globals(self):
        return {}
'''
REFUSING_NATIVE = """
    def init_runtime_native_auth():
        raise PermissionError("native auth is not available on this compute")
"""


def headers(provider: object) -> dict[str, str]:
    return asyncio.run(provider.headers())  # type: ignore[attr-defined]


def _runtime_module_names() -> list[str]:
    return [n for n in sys.modules
            if n == "dbruntime" or n.startswith(("dbruntime.", "databricks.sdk.runtime"))]


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Inside Databricks: DATABRICKS_RUNTIME_VERSION set and a (so far empty) stand-in
    ``dbruntime`` package importable; the SDK's runtime module is imported afresh, and forgotten
    afterwards so no later test sees the stand-in."""
    pytest.importorskip("databricks.sdk")
    package = tmp_path / "dbruntime"
    package.mkdir()
    (package / "__init__.py").write_text(RUNTIME_PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "19.0")
    saved = {n: sys.modules.pop(n) for n in _runtime_module_names()}
    sdk = sys.modules["databricks.sdk"]
    had_attr, old_attr = hasattr(sdk, "runtime"), getattr(sdk, "runtime", None)
    yield package
    for name in _runtime_module_names():
        del sys.modules[name]
    sys.modules.update(saved)
    if had_attr:
        sdk.runtime = old_attr  # type: ignore[attr-defined]
    elif hasattr(sdk, "runtime"):
        delattr(sdk, "runtime")


def _write(package: Path, module: str, source: str) -> None:
    (package / f"{module}.py").write_text(textwrap.dedent(source))


class _Opt:
    def __init__(self, value: str) -> None:
        self.value = value

    def get(self) -> str:
        return self.value


class Py4JSecurityException(Exception):
    """What a restricted compute type raises for ``getContext()`` (the name is py4j's)."""


class ContextDbutils:
    """dbutils whose notebook context answers (``refuse=False``) or is refused."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse, self.token_reads = refuse, 0
        self.notebook = self.entry_point = self

    def __call__(self) -> ContextDbutils:
        return self

    def getDbutils(self) -> ContextDbutils:
        return self

    def getContext(self) -> ContextDbutils:
        if self.refuse:
            raise Py4JSecurityException("Method getContext() is not whitelisted on class Notebook")
        return self

    def apiUrl(self) -> _Opt:
        return _Opt("https://ctx-host.cloud.databricks.com")

    def apiToken(self) -> _Opt:
        self.token_reads += 1
        return _Opt(f"ctx-token-{self.token_reads}")


def _put_dbutils(monkeypatch: pytest.MonkeyPatch, dbutils: ContextDbutils) -> None:
    import __main__

    monkeypatch.setattr(__main__, "dbutils", dbutils, raising=False)


def test_runtime_native_auth_comes_before_the_context(runtime: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _write(runtime, "sdk_credential_provider", NATIVE)
    ctx = ContextDbutils()
    _put_dbutils(monkeypatch, ctx)
    p = resolve_credentials()
    assert p.source == "databricks-sdk runtime auth"
    assert p.host == RT_HOST
    first, second = headers(p)["Authorization"], headers(p)["Authorization"]
    assert first.startswith("Bearer native-token-") and second.startswith("Bearer native-token-")
    assert first != second  # asked per request: a rotated token is picked up
    assert ctx.token_reads == 0  # the legacy context was never needed


def test_runtime_repl_context_when_native_auth_is_absent(runtime: Path) -> None:
    _write(runtime, "databricks_repl_context", REPL)
    p = resolve_credentials()
    assert p.source == "databricks-sdk runtime auth"
    assert p.host == "https://repl-host.cloud.databricks.com"
    assert headers(p) == {"Authorization": "Bearer repl-token"}


def test_explicit_host_wins_over_the_runtime_host(runtime: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _write(runtime, "sdk_credential_provider", NATIVE)
    p = resolve_credentials(host="adb-7.azuredatabricks.net")
    assert p.source == "databricks-sdk runtime auth" and p.host == "https://adb-7.azuredatabricks.net"


def test_refused_runtime_auth_falls_through_to_the_context(
        runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(runtime, "sdk_credential_provider", REFUSING_NATIVE)
    _put_dbutils(monkeypatch, ContextDbutils())
    p = resolve_credentials()
    assert p.source == "Databricks notebook context"
    assert p.host == "https://ctx-host.cloud.databricks.com"
    assert headers(p) == {"Authorization": "Bearer ctx-token-2"}  # read again per request


def test_refused_context_does_not_end_the_chain(runtime: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _put_dbutils(monkeypatch, ContextDbutils(refuse=True))
    with pytest.raises(AuthError) as info:
        resolve_credentials()
    msg = str(info.value)
    assert msg.startswith("no Databricks credentials found")  # the whole chain ran
    assert "databricks-sdk runtime auth found no usable credentials" in msg
    assert "cannot read host/token from the notebook context (Py4JSecurityException)" in msg
    assert "\n" not in msg and "Traceback" not in msg


def test_refused_context_goes_on_to_sdk_unified_auth(runtime: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With a workspace named, step 5 (unified auth) is still asked after both runtime sources."""
    _put_dbutils(monkeypatch, ContextDbutils(refuse=True))
    monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "pat")  # names an auth type; no token to find
    with pytest.raises(AuthError) as info:
        resolve_credentials()
    msg = str(info.value)
    assert "databricks-sdk runtime auth found" in msg and "notebook context (Py4J" in msg
    assert "databricks-sdk found no usable credentials" in msg


def test_without_runtime_modules_the_sdk_is_not_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``dbruntime`` (not a real runtime): the SDK would build a remote dbutils and probe
    unified auth, so only the notebook context is read."""
    pytest.importorskip("databricks.sdk")
    monkeypatch.setitem(sys.modules, "dbruntime", None)
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "18.0")
    for name in [n for n in sys.modules if n.startswith("databricks.sdk.runtime")]:
        monkeypatch.delitem(sys.modules, name)
    _put_dbutils(monkeypatch, ContextDbutils())
    assert resolve_credentials().source == "Databricks notebook context"
    assert "databricks.sdk.runtime" not in sys.modules


def test_without_the_sdk_the_context_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "databricks.sdk", None)  # import fails: not installed
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "18.0")
    _put_dbutils(monkeypatch, ContextDbutils())
    p = resolve_credentials()
    assert p.source == "Databricks notebook context"
    assert headers(p) == {"Authorization": "Bearer ctx-token-2"}


def test_dbchat_config_names_the_runtime_source(runtime: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    _write(runtime, "sdk_credential_provider", NATIVE)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dbchat_magic")
    try:
        ip.run_line_magic("dbchat", "config")
    finally:
        ip.run_line_magic("unload_ext", "dbchat_magic")
    out = capsys.readouterr().out
    assert "databricks-sdk runtime auth (token never shown)" in out
    assert RT_HOST in out and "native-token" not in out
