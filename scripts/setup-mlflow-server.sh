#!/usr/bin/env bash
# Build the MLflow model-server venv (.venv-mlflow) that tests/mlflow_server talks to, and
# save the test models (tests/mlflow_server/models/*.py) into .venv-mlflow/models/.
# Separate from .venv / .venv-dbr so MLflow's dependencies never clash with the test stacks.
# Built once per hash of the requirements, this script and the model files, in
# ~/.cache/dbchat-magic/venvs (DBCHAT_VENV_CACHE), and linked: a fresh clone reuses it.
# Usage: scripts/setup-mlflow-server.sh   (PYTHON=python3.11 to pick one)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.venv-mlflow
REQ=tests/mlflow_server/requirements.txt
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
want=$(cat "$REQ" scripts/setup-mlflow-server.sh tests/mlflow_server/save_models.py \
  tests/mlflow_server/models/*.py | sha256sum | cut -c1-16)
CACHE=${DBCHAT_VENV_CACHE:-$HOME/.cache/dbchat-magic/venvs}
dir=$CACHE/mlflow-$want
build() {  # the venv and the saved models, in $dir (a fresh clone links it: minutes saved)
  echo "== setting up $DIR in $dir (MLflow model server)"
  local start; start=$(date +%s)
  rm -rf "$dir"
  "$PY" -m venv "$dir"
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  "$dir/bin/python" -m pip install -q --upgrade pip
  "$dir/bin/python" -m pip install -q -r "$REQ"
  MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true MLFLOW_TRACKING_URI="file://$dir/mlruns" \
    "$dir/bin/python" tests/mlflow_server/save_models.py "$dir/models"
  touch "$dir/.complete"
  ls -dt "$CACHE"/mlflow-* | tail -n +4 | xargs -r rm -rf  # keep the three newest
  echo "== $DIR ready in $(( $(date +%s) - start )) s ($("$dir/bin/mlflow" --version))"
}
mkdir -p "$CACHE"
( flock 9; [ -f "$dir/.complete" ] || build ) 9>"$CACHE/.lock-mlflow"
[ -L "$DIR" ] || rm -rf "$DIR"  # an older layout built it in the checkout
ln -sfn "$dir" "$DIR"
