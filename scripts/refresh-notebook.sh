#!/usr/bin/env bash
# Re-execute example notebooks in place (after an intended output change), then drop widget state
# and execution timestamps so the stored file holds only what nbval compares.
# Usage: scripts/refresh-notebook.sh notebooks/NN_name.ipynb [...]
set -euo pipefail
cd "$(dirname "$0")/.."
for nb in "$@"; do
  .venv/bin/jupyter nbconvert --to notebook --execute --inplace "$nb"
  .venv/bin/python - "$nb" <<'PY'
import sys

import nbformat

path = sys.argv[1]
nb = nbformat.read(path, 4)
nb.metadata.pop("widgets", None)
for cell in nb.cells:
    cell.metadata.pop("execution", None)
nbformat.write(nb, path)
PY
done
