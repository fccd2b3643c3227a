"""Credentials: the `Secret` type, the credential chain, the credential environment variables,
scrubbing of messages and logs, and redaction of what is sent."""

from dbchat_magic.auth._chain import describe_auth, is_loopback, resolve_credentials
from dbchat_magic.auth._env import CHAIN_ENV, SECRET_ENV, secret_env_values
from dbchat_magic.auth._providers import (
    CredentialProvider,
    NoCredentialsProvider,
    NotebookContextProvider,
    OAuthM2MProvider,
    SdkProvider,
    StaticTokenProvider,
    normalise_host,
)
from dbchat_magic.auth._secret import (
    REDACTED,
    ScrubFilter,
    Secret,
    install_log_scrubbing,
    redact,
    scrub,
    scrubbed_logger,
)

__all__ = [
    "CHAIN_ENV",
    "REDACTED",
    "SECRET_ENV",
    "CredentialProvider",
    "NoCredentialsProvider",
    "NotebookContextProvider",
    "OAuthM2MProvider",
    "ScrubFilter",
    "SdkProvider",
    "Secret",
    "StaticTokenProvider",
    "describe_auth",
    "install_log_scrubbing",
    "is_loopback",
    "normalise_host",
    "redact",
    "resolve_credentials",
    "scrub",
    "scrubbed_logger",
    "secret_env_values",
]
