"""Credential providers: each knows its host, names its source, and builds headers per request."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from dbchat_magic.auth._secret import Secret, scrub
from dbchat_magic.errors import AuthError
from dbchat_magic.hosts import check_host


class CredentialProvider(Protocol):
    """What the client needs: a host, a readable source name, and fresh headers per request."""

    source: str

    @property
    def host(self) -> str:
        """The workspace URL, e.g. ``https://adb-1.azuredatabricks.net``."""
        ...

    async def headers(self) -> dict[str, str]:
        """Authorization headers for one request (refreshed when the credential expires)."""
        ...


def normalise_host(host: str) -> str:
    """``adb-1.net/`` → ``https://adb-1.net``: add a scheme if missing, drop trailing slashes.
    A host with user info is refused (`ConfigError`, see `dbchat_magic.hosts.check_host`)."""
    host = check_host(host, "the workspace host").strip().rstrip("/")
    if host and "://" not in host:
        host = "https://" + host
    return host


class StaticTokenProvider:
    """A personal access token (or any bearer token) that does not change."""

    def __init__(self, host: str, token: Secret, source: str) -> None:
        self._host = normalise_host(host)
        self._token = token
        self.source = source

    @property
    def host(self) -> str:
        """The workspace URL."""
        return self._host

    async def headers(self) -> dict[str, str]:
        """``Authorization: Bearer …``."""
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    def __repr__(self) -> str:
        return f"StaticTokenProvider(host={self._host!r}, source={self.source!r})"


class NoCredentialsProvider:
    """A server that needs no credentials (a local OpenAI-compatible one): no auth header."""

    def __init__(self, host: str, source: str) -> None:
        self._host = normalise_host(host)
        self.source = source

    @property
    def host(self) -> str:
        """The server URL."""
        return self._host

    async def headers(self) -> dict[str, str]:
        """No headers."""
        return {}

    def __repr__(self) -> str:
        return f"NoCredentialsProvider(host={self._host!r}, source={self.source!r})"


class OAuthM2MProvider:
    """OAuth M2M: client id + secret → ``{host}/oidc/v1/token``; token cached until expiry."""

    def __init__(self, host: str, client_id: str, client_secret: Secret, source: str,
                 *, timeout: float = 10.0) -> None:
        self._host = normalise_host(host)
        self._client_id = client_id
        self._secret = client_secret
        self._timeout = timeout
        self._token: Secret | None = None
        self._expires = 0.0
        self.source = source

    @property
    def host(self) -> str:
        """The workspace URL."""
        return self._host

    async def headers(self) -> dict[str, str]:
        """A bearer header, fetching a new access token when the cached one is near expiry."""
        if self._token is None or time.monotonic() > self._expires:
            await self._refresh()
        assert self._token is not None
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    async def _refresh(self) -> None:
        import httpx

        url = f"{self._host}/oidc/v1/token"
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                resp = await http.post(
                    url, data={"grant_type": "client_credentials", "scope": "all-apis"},
                    auth=(self._client_id, self._secret.reveal()))
        except httpx.HTTPError as exc:
            raise AuthError(f"OAuth token request to {url} failed ({type(exc).__name__}); "
                            f"check the host ({self.source})") from None
        if resp.status_code != 200:
            raise AuthError(f"OAuth token request was refused (HTTP {resp.status_code}) for the "
                            f"client id from {self.source}: check the client id and secret",
                            status_code=resp.status_code)
        try:
            data = resp.json()
            token = data["access_token"]
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise AuthError(f"OAuth token endpoint {url} sent no access_token") from None
        self._token = Secret(token)
        self._expires = time.monotonic() + max(lifetime - 60.0, lifetime / 2)

    def __repr__(self) -> str:
        return f"OAuthM2MProvider(host={self._host!r}, source={self.source!r})"


def find_dbutils() -> Any:
    """The notebook's ``dbutils`` (from ``__main__`` or IPython's namespace), or None."""
    main = sys.modules.get("__main__")
    found = getattr(main, "dbutils", None)
    if found is None and "IPython" in sys.modules:
        ip = sys.modules["IPython"].get_ipython()
        found = ip.user_ns.get("dbutils") if ip is not None else None
    return found


class NotebookContextProvider:
    """Inside a Databricks notebook: host and token from the notebook context, read per request."""

    source = "Databricks notebook context"

    def __init__(self, host: str = "",
                 dbutils_getter: Callable[[], Any] = find_dbutils) -> None:
        self._get_dbutils = dbutils_getter
        api_url, _ = self._read()
        self._host = normalise_host(host or api_url)

    def _read(self) -> tuple[str, Secret]:
        dbutils = self._get_dbutils()
        if dbutils is None:
            raise AuthError("DATABRICKS_RUNTIME_VERSION is set but no dbutils was found; "
                            "set DATABRICKS_HOST and DATABRICKS_TOKEN instead")
        try:
            ctx = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
            return ctx.apiUrl().get(), Secret(ctx.apiToken().get())
        except Exception as exc:
            raise AuthError(f"cannot read host/token from the notebook context "
                            f"({scrub(type(exc).__name__)}); set DATABRICKS_HOST and "
                            "DATABRICKS_TOKEN instead") from None

    @property
    def host(self) -> str:
        """The workspace URL."""
        return self._host

    async def headers(self) -> dict[str, str]:
        """A bearer header with the context's current token (it rotates)."""
        _, token = self._read()
        return {"Authorization": f"Bearer {token.reveal()}"}


class SdkProvider:
    """databricks-sdk auth, imported only when used: its unified auth (OAuth U2M/M2M, Azure CLI/MSI,
    …), or one named strategy: ``auth_type="runtime"`` is the Databricks runtime's own credentials
    (native auth, then the REPL context, then the legacy notebook context)."""

    def __init__(self, host: str = "", *, timeout: float = 10.0,
                 auth_type: str | None = None) -> None:
        self.source = f"databricks-sdk {auth_type or 'unified'} auth"
        what = self.source if auth_type else "databricks-sdk"
        try:
            from databricks.sdk.core import Config
        except ImportError:
            raise AuthError("databricks-sdk is not installed") from None
        options: dict[str, Any] = {"http_timeout_seconds": int(timeout),
                                   "retry_timeout_seconds": int(timeout)}
        if auth_type:  # a named strategy finds its own host; an explicit one still wins below
            options["auth_type"] = auth_type
        else:
            options["host"] = host or None
        try:
            self._config = _bounded_config(Config, options, timeout + 5.0)
        except Exception as exc:
            first = scrub(str(exc)).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise AuthError(f"{what} found no usable credentials: {first}") from None
        self._host = normalise_host((host if auth_type else "") or self._config.host or host)

    @property
    def host(self) -> str:
        """The workspace URL."""
        return self._host

    async def headers(self) -> dict[str, str]:
        """Headers from ``Config.authenticate()`` (run in a thread: it may refresh a token)."""
        return dict(await asyncio.to_thread(self._config.authenticate))


def _bounded_config(config_class: Callable[..., Any], options: dict[str, Any],
                    deadline: float) -> Any:
    """``Config(**options)`` and its first ``authenticate()``, given up after ``deadline`` seconds.

    databricks-sdk 0.10x fetches ``{host}/.well-known/databricks-config`` while it builds a Config,
    with its own retry budget (minutes when the host refuses connections: seen with 0.108.0, DBR
    19's pin), ignoring ``retry_timeout_seconds``. The work runs in a daemon thread, so a host that
    never answers costs the user ``deadline``, not the SDK's budget; the thread ends on its own.
    """
    box: dict[str, Any] = {}

    def build() -> None:
        try:
            config = config_class(**options)
            config.authenticate()
            box["config"] = config
        except Exception as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=build, name="dbchat-sdk-auth", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {deadline:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["config"]
