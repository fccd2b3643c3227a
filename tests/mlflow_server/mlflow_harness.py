"""Start and stop real MLflow servers (from .venv-mlflow) on loopback for the tests.

Two kinds of server, both MLflow's own code run as a subprocess of the MLflow venv:
- `mlflow models serve -m <model dir> --env-manager local` (the pyfunc scoring server that
  Databricks custom-model serving is built on): POST /invocations, GET /ping, /health, /version.
- MLflow's AgentServer (`mlflow.genai.agent_server`, what Databricks Apps agents run), started
  with uvicorn on an app module in tests/mlflow_server/models: POST /invocations (and
  /responses for a ResponsesAgent), GET /health; it streams for `stream: true`.

This module never imports mlflow: the test venvs only talk HTTP to these servers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-mlflow"
MODELS_DIR = VENV / "models"
APPS_DIR = Path(__file__).resolve().parent / "models"
SETUP_HINT = "run scripts/setup-mlflow-server.sh"
READY_TIMEOUT_S = 90.0  # generous for a loaded machine, under pytest-timeout's 120 s; not asserted

# name -> (kind, target, health path)
SERVERS: dict[str, tuple[str, str, str]] = {
    "chat_model": ("model", "chat_model", "/ping"),
    "chat_agent": ("model", "chat_agent", "/ping"),
    "responses_agent": ("model", "responses_agent", "/ping"),
    "responses_agent_stream": ("app", "responses_agent_server:app", "/health"),
    "chat_agent_stream": ("app", "chat_agent_server:app", "/health"),
}


class MlflowServerError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


@dataclass
class MlflowServer:
    """One running server process (its own process group) and what it took to start."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    start_seconds: float = 0.0
    workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""


def missing_reason() -> str | None:
    """Why the MLflow venv cannot serve the test models, or None when it can."""
    if not (VENV / "bin" / "mlflow").exists():
        return f"no MLflow venv at {VENV} ({SETUP_HINT})"
    if not (VENV / ".complete").exists():
        return f"MLflow venv at {VENV} is half built ({SETUP_HINT})"
    absent = [n for k, n, _ in SERVERS.values() if k == "model" and not (MODELS_DIR / n).is_dir()]
    if absent:
        return f"saved models missing in {MODELS_DIR}: {absent} ({SETUP_HINT})"
    return None


def mlflow_version() -> str:
    """The installed MLflow version, read from the venv's package metadata (no import)."""
    for dist in (VENV / "lib").glob("python*/site-packages/mlflow_skinny-*.dist-info"):
        return dist.name.split("-")[1]
    for dist in (VENV / "lib").glob("python*/site-packages/mlflow-*.dist-info"):
        return dist.name.split("-")[1]
    return "unknown"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command(kind: str, target: str, port: int) -> list[str]:
    bin_dir = VENV / "bin"
    if kind == "model":
        return [str(bin_dir / "mlflow"), "models", "serve", "-m", str(MODELS_DIR / target),
                "--env-manager", "local", "-p", str(port), "--host", "127.0.0.1"]
    return [str(bin_dir / "python"), "-m", "uvicorn", "--app-dir", str(APPS_DIR),
            "--host", "127.0.0.1", "--port", str(port), target]


def _env(workdir: str) -> dict[str, str]:
    """The server's environment: MLflow venv first on PATH, no telemetry, traces in workdir."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    env["MLFLOW_TRACKING_URI"] = Path(workdir, "mlruns").as_uri()
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_ready(server: MlflowServer, health: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise MlflowServerError(f"{server.name} exited ({server.proc.returncode}):\n"
                                    f"{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.base_url + health, timeout=2.0).status_code == 200:
                return
        time.sleep(0.1)
    raise MlflowServerError(f"{server.name} not ready after {timeout:.0f} s:\n{server.log_tail()}")


def start(name: str, timeout: float = READY_TIMEOUT_S, attempts: int = 3) -> MlflowServer:
    """Start server `name` (a key of SERVERS) on a free loopback port; wait until it answers.

    A port taken between choosing and binding it costs one more attempt, nothing else.
    """
    for attempt in range(attempts):
        try:
            return _start_once(name, timeout)
        except MlflowServerError as exc:
            if "address already in use" not in str(exc).lower() or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _start_once(name: str, timeout: float) -> MlflowServer:
    kind, target, health = SERVERS[name]
    workdir = tempfile.TemporaryDirectory(prefix=f"mlflow-{name}-")
    log_path = Path(workdir.name, "server.log")
    port = _free_port()
    began = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(_command(kind, target, port), cwd=workdir.name,
                                env=_env(workdir.name), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = MlflowServer(name, port, proc, log_path, workdir=workdir)
    try:
        _wait_ready(server, health, timeout)
    except BaseException:
        stop(server)
        raise
    server.start_seconds = time.monotonic() - began
    return server


def stop(server: MlflowServer, grace: float = 10.0) -> None:
    """End the server's whole process group (mlflow execs uvicorn as a child): TERM, then KILL."""
    if server.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.proc.pid, signal.SIGKILL)  # a child that outlived its parent
    if server.workdir is not None:
        server.workdir.cleanup()
