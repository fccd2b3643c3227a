"""The HTTP pool a client uses on one event loop, and the imports its first request needs."""

from __future__ import annotations

import importlib
import ssl

import httpx

from dbchat_magic.config import Settings

_TLS: ssl.SSLContext | None = None


def new_pool(settings: Settings, host: str) -> httpx.AsyncClient:
    """A keep-alive pool with the settings' connect and write timeouts (reads are bounded by the
    client's own deadlines), no redirects (a redirect would resend the credentials)."""
    s = settings
    return httpx.AsyncClient(
        verify=tls_context(host),
        timeout=httpx.Timeout(connect=s.connect_timeout, read=None, write=s.gap_timeout,
                              pool=s.connect_timeout),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=8,
                            keepalive_expiry=60.0),
        follow_redirects=False)


def import_transport() -> None:
    """Import what httpx loads on the first request (run in a worker thread ahead of it)."""
    for name in ("anyio._backends._asyncio", "httpcore._async.http11", "h11"):
        importlib.import_module(name)


def tls_context(host: str) -> ssl.SSLContext:
    """A verifying TLS context made once per process (loading CA certificates costs ~0.1 s per
    client otherwise); plain-http hosts get an empty one, which would refuse any https peer."""
    global _TLS
    if host.startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if _TLS is None:
        _TLS = httpx.create_ssl_context()
    return _TLS
