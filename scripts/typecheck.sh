#!/usr/bin/env bash
# mypy on src/ with the settings of [tool.mypy] in pyproject.toml (run by scripts/test.sh).
# Usage: scripts/typecheck.sh [PYTHON]   (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
exec "$PY" -m mypy --cache-dir "${MYPY_CACHE_DIR:-/tmp/dbchat-mypy-cache}"
