#!/usr/bin/env bash
# Build the MLflow model-server venv (.venv-mlflow) that tests/mlflow_server talks to, and
# save the test models (tests/mlflow_server/models/*.py) into .venv-mlflow/models/.
# Separate from .venv / .venv-dbr so MLflow's dependencies never clash with the test stacks.
# Idempotent: a stamp over the requirements, this script and the model files skips the work
# when nothing changed. Usage: scripts/setup-mlflow-server.sh   (PYTHON=python3.11 to pick one)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.venv-mlflow
REQ=tests/mlflow_server/requirements.txt
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
want=$(cat "$REQ" scripts/setup-mlflow-server.sh tests/mlflow_server/save_models.py \
  tests/mlflow_server/models/*.py | sha256sum | cut -c1-16)
if [ -x "$DIR/bin/mlflow" ] && [ "$(cat "$DIR/.stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "== setting up $DIR (MLflow model server)"
start=$(date +%s)
[ -x "$DIR/bin/python" ] || "$PY" -m venv "$DIR"
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$DIR/bin/python" -m pip install -q --upgrade pip
"$DIR/bin/python" -m pip install -q -r "$REQ"
rm -f "$DIR/.stamp"
MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true MLFLOW_TRACKING_URI="file://$PWD/$DIR/mlruns" \
  "$DIR/bin/python" \
  tests/mlflow_server/save_models.py "$DIR/models"
echo "$want" > "$DIR/.stamp"
echo "== $DIR ready in $(( $(date +%s) - start )) s ($("$DIR/bin/mlflow" --version))"
