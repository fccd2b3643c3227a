"""Save the three test models (MLflow "models from code") into local model directories.

Run by scripts/setup-mlflow-server.sh with the MLflow venv's Python:
    .venv-mlflow/bin/python tests/mlflow_server/save_models.py OUT_DIR
Each model lands in OUT_DIR/<name>/ (an MLmodel directory that `mlflow models serve -m`
accepts). Never imported by the test venvs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import mlflow

HERE = Path(__file__).resolve().parent / "models"
MODELS = {"chat_model": "chat_model.py", "chat_agent": "chat_agent.py",
          "responses_agent": "responses_agent.py"}


def main(out_dir: str) -> None:
    """Write every model afresh (a half-written directory from a failed run is replaced)."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for name, source in MODELS.items():
        target = root / name
        if target.exists():
            shutil.rmtree(target)
        mlflow.pyfunc.save_model(path=str(target), python_model=str(HERE / source))
        print(f"saved {name} -> {target}")


if __name__ == "__main__":
    main(sys.argv[1])
