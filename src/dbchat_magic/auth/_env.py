"""The environment variables of credentials: those the chain reads, and those holding secrets.

One list each, owned here: the runner keys its clients on `CHAIN_ENV`; `secret_env_values` feeds
the scrubbing of logs and messages and the redaction of prompts.
"""

from __future__ import annotations

import os
import re

# A change in any of these can change which credentials the chain finds.
CHAIN_ENV = (
    "DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE",
    "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_RUNTIME_VERSION",
)
# Variables whose values are credentials, besides any whose name says so (`_SECRET_NAME`).
SECRET_ENV = (
    "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_PASSWORD", "DATABRICKS_API_KEY",
    "OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ARM_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "GITHUB_TOKEN",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GOOGLE_API_KEY",
)
_SECRET_NAME = re.compile(r"(?:TOKEN|SECRET|API_?KEY|PASSWORD|PASSWD|ACCESS_KEY)$", re.I)
MIN_SECRET_CHARS = 8  # shorter values ("1", "true") would redact ordinary text


def secret_env_values() -> set[str]:
    """The values of the credential variables now set (at least `MIN_SECRET_CHARS` long)."""
    env = os.environ
    names = {n for n in env if _SECRET_NAME.search(n)}.union(SECRET_ENV)
    return {v for n in names if len(v := env.get(n, "").strip()) >= MIN_SECRET_CHARS}
