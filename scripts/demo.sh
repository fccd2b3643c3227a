#!/usr/bin/env bash
# Demo against the built-in Databricks-protocol simulator — no credentials needed.
#   bash scripts/demo.sh             terminal demo: streams one answer and prints its metrics
#   bash scripts/demo.sh notebook    opens notebooks/01_quickstart.ipynb in JupyterLab (simulator started by the notebook)
#   bash scripts/demo.sh headless    executes the quickstart notebook headless and prints its answers
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venvs.sh current >&2
case "${1:-terminal}" in
  terminal) exec .venv/bin/python -m dbchat_magic.demo ;;
  notebook) exec .venv/bin/python -m jupyter lab notebooks/01_quickstart.ipynb ;;
  headless) exec .venv/bin/python -m dbchat_magic.demo --notebook notebooks/01_quickstart.ipynb ;;
  *) echo "usage: scripts/demo.sh [terminal|notebook|headless]" >&2; exit 2 ;;
esac
