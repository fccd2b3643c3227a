"""`resolve_credentials`: the credential chain, first hit wins.

1. explicit ``token=`` argument; 2. ``DATABRICKS_TOKEN`` (or ``DATABRICKS_CLIENT_ID``/``SECRET``);
3. a ``~/.databrickscfg`` profile (``DATABRICKS_CONFIG_FILE``, ``DATABRICKS_CONFIG_PROFILE``);
4. inside Databricks (``DATABRICKS_RUNTIME_VERSION`` set): databricks-sdk's ``runtime`` strategy
   (the runtime's native auth, its REPL context, the legacy notebook context), then the notebook
   context token read here; either may be refused on some compute types and the chain goes on;
5. databricks-sdk unified auth, if installed and a host, a config profile or an auth type names a
   workspace (imported only here, with short timeouts).
The host comes from the ``host=`` argument, then ``Settings.host``, then the winning source.

``Settings.auth`` changes the chain after the token argument: ``none`` sends no credentials,
``env:VAR`` reads a bearer token from environment variable VAR (read per client, kept in memory
only), and with ``auto`` an OpenAI-style host (``url_style="openai"``) for which the chain finds
nothing is asked without credentials (a local server needs none; one that does answers 401).
"""

from __future__ import annotations

import configparser
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dbchat_magic.auth._providers import (
    CredentialProvider,
    NoCredentialsProvider,
    NotebookContextProvider,
    OAuthM2MProvider,
    SdkProvider,
    StaticTokenProvider,
)
from dbchat_magic.auth._secret import Secret
from dbchat_magic.errors import AuthError
from dbchat_magic.hosts import check_host, is_databricks_host

if TYPE_CHECKING:
    from dbchat_magic.config import Settings

_SDK_TIMEOUT = 10.0


def _config_file() -> Path:
    return Path(os.environ.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg").expanduser()


def _no_host(source: str) -> AuthError:
    return AuthError(f"a token was found in {source} but no host: set DATABRICKS_HOST "
                     "(or the host setting) to your workspace URL")


def _from_config_file(host: str) -> tuple[CredentialProvider | None, dict[str, str]]:
    path = _config_file()
    wanted = os.environ.get("DATABRICKS_CONFIG_PROFILE")
    name = wanted or "DEFAULT"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise AuthError(f"cannot parse {path}: {type(exc).__name__}") from None
    if name == "DEFAULT":
        section = dict(parser.defaults())
    elif parser.has_section(name):
        section = dict(parser.items(name))
    else:
        section = {}
    if not section:
        if wanted:
            known = ", ".join(parser.sections()) or "none"
            raise AuthError(f"profile [{wanted}] (DATABRICKS_CONFIG_PROFILE) is not in {path} "
                            f"(profiles: {known})")
        return None, {}
    source = f"{path} profile [{name}]"
    check_host(section.get("host", ""), f"the host of {source}")
    host = host or section.get("host", "")
    if section.get("token"):
        if not host:
            raise _no_host(source)
        return StaticTokenProvider(host, Secret(section["token"]), source), section
    if section.get("client_id") and section.get("client_secret"):
        if not host:
            raise _no_host(source)
        return OAuthM2MProvider(host, section["client_id"], Secret(section["client_secret"]),
                                source + " (OAuth M2M)"), section
    return None, section  # a profile for another auth type (CLI, Azure…): databricks-sdk


def resolve_credentials(settings: Settings | None = None, token: str | Secret | None = None,
                        host: str | None = None) -> CredentialProvider:
    """The first credential source that has a token; `AuthError` saying what was tried if none."""
    env = os.environ
    check_host(host or "", "the host argument")
    check_host(env.get("DATABRICKS_HOST", ""), "DATABRICKS_HOST")
    host = host or (settings.host if settings is not None else "") or ""
    if token:
        secret = token if isinstance(token, Secret) else Secret(token)
        chosen = host or env.get("DATABRICKS_HOST", "")
        if not chosen:
            raise _no_host("the token argument")
        return StaticTokenProvider(chosen, secret, "explicit token argument")
    auth = getattr(settings, "auth", "auto")
    if auth != "auto":
        return _chosen_auth(auth, host)
    other_server = (getattr(settings, "url_style", "databricks") == "openai" and bool(host)
                    and not is_databricks_host(host))
    try:
        return _chain(host, sdk=not other_server)
    except AuthError:
        if not other_server:
            raise
        return NoCredentialsProvider(host, no_credentials_source(host))


def describe_auth(settings: Settings) -> str:
    """What `%dbchat config` says about the credentials: their source, never their value."""
    try:
        provider = resolve_credentials(settings)
    except AuthError as err:
        return f"none found ({err})"
    if isinstance(provider, NoCredentialsProvider):
        return provider.source
    return f"{provider.source} (token never shown)"


def no_credentials_source(host: str) -> str:
    """How `%dbchat config` names "no credentials": "(local server)" for a loopback host."""
    return "no credentials (local server)" if is_loopback(host) else "no credentials"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL) names this machine: localhost, 127.0.0.0/8 or ::1."""
    import ipaddress
    from urllib.parse import urlsplit

    name = urlsplit(host if "://" in host else f"http://{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _chosen_auth(auth: str, host: str) -> CredentialProvider:
    """``auth`` = ``none`` or ``env:VAR`` (Settings validated the form)."""
    if not host:
        raise AuthError(f"auth {auth} needs a host: run `%dbchat connect URL` or set the host")
    if auth == "none":
        return NoCredentialsProvider(host, no_credentials_source(host))
    name = auth.removeprefix("env:")
    value = os.environ.get(name, "").strip()
    if not value:
        raise AuthError(f"the token variable {name} (auth env:{name}) is not set in this "
                        f"kernel: set it, e.g. os.environ[{name!r}] = …, or connect with "
                        "--no-auth")
    return StaticTokenProvider(host, Secret(value), f"environment variable {name}")


def _chain(host: str, *, sdk: bool = True) -> CredentialProvider:
    """Steps 2-5 of the chain (after the token argument); without ``sdk`` steps 2-3 only (an
    OpenAI-style server that is no Databricks workspace: databricks-sdk would probe it)."""
    env = os.environ
    env_host = host or env.get("DATABRICKS_HOST", "")
    if env.get("DATABRICKS_TOKEN"):
        if not env_host:
            raise _no_host("DATABRICKS_TOKEN")
        return StaticTokenProvider(env_host, Secret(env["DATABRICKS_TOKEN"]),
                                   "environment (DATABRICKS_TOKEN)")
    if env.get("DATABRICKS_CLIENT_ID") and env.get("DATABRICKS_CLIENT_SECRET"):
        if not env_host:
            raise _no_host("DATABRICKS_CLIENT_ID/SECRET")
        return OAuthM2MProvider(env_host, env["DATABRICKS_CLIENT_ID"],
                                Secret(env["DATABRICKS_CLIENT_SECRET"]),
                                "environment (DATABRICKS_CLIENT_ID/SECRET, OAuth M2M)")
    found, section = _from_config_file(env_host)
    if found is not None:
        return found
    notes: list[str] = []
    if not sdk:
        raise AuthError("no credentials for this server (DATABRICKS_TOKEN, "
                        f"DATABRICKS_CLIENT_ID/SECRET, {_config_file()})")
    if env.get("DATABRICKS_RUNTIME_VERSION"):
        inside = _inside_databricks(env_host, notes)
        if inside is not None:
            return inside
    # The SDK can only help when something names a workspace or an auth type; otherwise it
    # would spend seconds probing for nothing.
    hinted = env_host or section or env.get("DATABRICKS_AUTH_TYPE") or env.get("ARM_CLIENT_ID")
    if hinted and _sdk_installed():
        try:
            return SdkProvider(env_host or section.get("host", ""), timeout=_SDK_TIMEOUT)
        except AuthError as err:
            notes.append(str(err))
    raise AuthError(
        "no Databricks credentials found (tried: token argument, DATABRICKS_TOKEN, "
        f"DATABRICKS_CLIENT_ID/SECRET, {_config_file()}, databricks-sdk runtime auth, notebook "
        f"context, databricks-sdk){''.join(f'; {n}' for n in notes)}; "
        "set DATABRICKS_HOST and DATABRICKS_TOKEN")


def _inside_databricks(host: str, notes: list[str]) -> CredentialProvider | None:
    """databricks-sdk's runtime strategy, then the notebook context; each refusal is noted.

    The SDK's strategy reads the runtime's own ``dbruntime`` modules; where they are missing it
    would build a remote dbutils with unified auth instead, so it is asked only where they exist.
    """
    if _installed("dbruntime") and _sdk_installed():
        try:
            return SdkProvider(host, timeout=_SDK_TIMEOUT, auth_type="runtime")
        except AuthError as err:
            notes.append(str(err))
    try:
        return NotebookContextProvider(host)
    except AuthError as err:
        notes.append(str(err))
    return None


def _sdk_installed() -> bool:
    return _installed("databricks.sdk")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
