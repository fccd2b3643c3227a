#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, unit + integration tests against the simulator,
# kernel tests and nbval notebooks on both notebook stacks, and the browser end-to-end tests.
# Installs what it needs (Debian chromium, two virtual environments) on first run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p test-artifacts

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian chromium (browser tests)"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if ! command -v java >/dev/null 2>&1; then
  echo "== installing a Java runtime (pyspark local mode)"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq default-jre-headless >/dev/null
fi

scripts/setup-venvs.sh all

echo "== ruff"
.venv/bin/ruff check src tests bench

echo "== current stack (IPython 9 / ipykernel 7.4 / ipywidgets 8): tests + notebooks"
.venv/bin/python -m pytest -q -p no:cacheprovider tests notebooks --ignore=tests/e2e --nbval \
  --nbval-sanitize-with notebooks/sanitize.cfg --junitxml=test-artifacts/current.xml

# Separate process: Playwright's sync API keeps an event loop running in the main thread.
echo "== browser end-to-end (JupyterLab + Debian chromium)"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e --junitxml=test-artifacts/e2e.xml

echo "== Databricks stack (IPython 8.30 / ipykernel 6.29 / ipywidgets 7.8): tests + notebooks"
.venv-dbr/bin/python -m pytest -q -p no:cacheprovider tests notebooks --ignore=tests/e2e --nbval \
  --nbval-sanitize-with notebooks/sanitize.cfg -m "not e2e and not spark and not polars" \
  --junitxml=test-artifacts/dbr.xml
