"""Workspace host URLs: `check_host` refuses a host that carries user info.

``https://token:dapi…@host`` (or ``user@host``) would carry the token everywhere the host string
goes (settings output, widget state, logs, reprs) and make httpx send it as Basic auth. Every
place a host enters (settings, profiles, ``DATABRICKS_HOST``, ``.databrickscfg``, ``host=``
arguments) calls this one check; its message never repeats the user info.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from dbchat_magic.errors import ConfigError

__all__ = ["check_host", "is_databricks_host", "is_local"]

_DATABRICKS_DOMAINS = ("databricks.com", "azuredatabricks.net", "databricks.azure.cn",
                       "databricks.azure.us")

_AUTHORITY_END = re.compile(r"[/?#\\]")


def check_host(host: str, where: str) -> str:
    """``host`` unchanged, or `ConfigError` naming ``where`` if it holds an ``@`` (user info).

    Non-strings pass through (the caller's type check reports them)."""
    if not isinstance(host, str) or "@" not in host:
        return host
    scheme, sep, rest = host.strip().partition("://")
    if not sep:
        scheme, rest = "https", scheme
    after = rest.rsplit("@", 1)[1]
    shown = f"{scheme}://{_AUTHORITY_END.split(after, maxsplit=1)[0]}"
    raise ConfigError(f"{where} must not hold user info (a name or token before '@'): keep the "
                      "token in DATABRICKS_TOKEN or ~/.databrickscfg and give the host alone, "
                      f"e.g. {shown}")


def is_local(host: str) -> bool:
    """True for a server on this machine or a private network (``localhost``, loopback or
    private addresses): a local model server (vLLM, Ollama, llama.cpp), not a workspace."""
    try:
        name = urlsplit(host if "://" in host else f"//{host}").hostname or ""
    except ValueError:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def is_databricks_host(host: str) -> bool:
    """Whether the URL's host name is under a Databricks workspace domain."""
    from urllib.parse import urlsplit

    name = (urlsplit(host if "://" in host else f"https://{host}").hostname or "").lower()
    return any(name == d or name.endswith("." + d) for d in _DATABRICKS_DOMAINS)
