#!/usr/bin/env bash
# Create (or refresh) the two virtual environments the project is tested on:
#   .venv      current JupyterLab stack: IPython 9, ipykernel 7.4, ipywidgets 8
#   .venv-dbr  Databricks notebook stack: IPython 8.30.0, ipykernel 6.29.5, ipywidgets 7.8.1
# Usage: scripts/setup-venvs.sh [current|dbr|all]   (default: all). Re-runs are cheap (stamp file).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
which_envs=${1:-all}
stamp_of() { cat pyproject.toml scripts/setup-venvs.sh | sha256sum | cut -c1-16; }

make_env() {  # name, pip args...
  local dir=$1; shift
  local want; want=$(stamp_of)
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  echo "== setting up $dir"
  [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  echo "$want" > "$dir/.stamp"
}

if [ "$which_envs" = all ] || [ "$which_envs" = current ]; then
  make_env .venv -e ".[test,e2e,spark,polars,bench]" \
    "ipython>=9" "ipykernel==7.4.*" "ipywidgets==8.1.*"
fi
if [ "$which_envs" = all ] || [ "$which_envs" = dbr ]; then
  make_env .venv-dbr -e ".[test]" \
    "ipython==8.30.0" "ipykernel==6.29.5" "ipywidgets==7.8.1"
fi
