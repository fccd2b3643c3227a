"""Fixtures: real MLflow servers (from .venv-mlflow) on loopback, one per kind, per session.

Without the MLflow venv the tests skip with the reason; under CI=true they fail instead, so
CI cannot go green without having talked to MLflow. Build it with scripts/setup-mlflow-server.sh.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from mlflow_harness import MlflowServer, missing_reason, start, stop


def _require_venv() -> None:
    reason = missing_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the MLflow server cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mlflow_servers() -> Iterator[Callable[[str], MlflowServer]]:
    """A getter that starts a server (a key of mlflow_harness.SERVERS) once per session."""
    running: dict[str, MlflowServer] = {}

    def get(name: str) -> MlflowServer:
        _require_venv()
        if name not in running:
            running[name] = start(name)
        return running[name]

    yield get
    for server in running.values():
        stop(server)


@pytest.fixture
def mlflow_server(request: pytest.FixtureRequest,
                  mlflow_servers: Callable[[str], MlflowServer]) -> MlflowServer:
    """The server named by indirect parametrisation, e.g. parametrize("mlflow_server", [...])."""
    return mlflow_servers(request.param)
