"""Credentials: the `Secret` type, the credential chain, and scrubbing of messages and logs."""

from dbchat_magic.auth._chain import resolve_credentials
from dbchat_magic.auth._providers import (
    CredentialProvider,
    NotebookContextProvider,
    OAuthM2MProvider,
    SdkProvider,
    StaticTokenProvider,
    normalise_host,
)
from dbchat_magic.auth._secret import ScrubFilter, Secret, scrub, scrubbed_logger

__all__ = [
    "CredentialProvider",
    "NotebookContextProvider",
    "OAuthM2MProvider",
    "ScrubFilter",
    "SdkProvider",
    "Secret",
    "StaticTokenProvider",
    "normalise_host",
    "resolve_credentials",
    "scrub",
    "scrubbed_logger",
]
