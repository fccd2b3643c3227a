"""A real OpenAI-compatible server with a real small model, for the ``real_llm`` tests.

``scripts/setup-llama.sh`` installs llama-cpp-python into ``.venv-llama`` and unpacks
SmolLM2-135M-Instruct into ``.llama-cache`` (override with ``DBCHAT_LLAMA_PYTHON`` /
``DBCHAT_LLAMA_MODEL``; ``DBCHAT_LLAMA_THREADS`` sets ``--n_threads``, default 1).
Fixtures (session scope, started on first use):

- ``llama``: ``python -m llama_cpp.server`` on a free loopback port with ``--model_alias smollm2``
  and no API key (a typical local server). A `LlamaServer`: ``.base_url`` (…/v1), ``.root_url``,
  ``.model_id``, ``.pid``, ``.cpu_ticks()``, ``.access_log(since)``, ``.log_text()``.
- ``llama_path_id``: a second server without ``--model_alias`` (its model id is the GGUF path,
  which contains ``/``) that requires an API key (``.api_key``, made at run time).

Under ``CI=true`` a server that cannot be started fails the tests; elsewhere they are skipped with
the reason, which is also printed at the end of the run.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
LLAMA_PYTHON = Path(os.environ.get("DBCHAT_LLAMA_PYTHON") or REPO / ".venv-llama/bin/python")
LLAMA_MODEL = Path(os.environ.get("DBCHAT_LLAMA_MODEL")
                   or REPO / ".llama-cache/SmolLM2-135M-Instruct.Q4_1.gguf")
ALIAS = "smollm2"
N_CTX = 2048
THREADS = os.environ.get("DBCHAT_LLAMA_THREADS", "1")  # the machine is shared; 1 is predictable
STARTUP_TIMEOUT = 120.0  # a loaded 2-core machine; it takes ~2 s when idle
_ACCESS = re.compile(r'127\.0\.0\.1:(\d+) - "(\w+) (\S+) HTTP/1\.1" (\d+)')
_unavailable: list[str] = []
_started: list[str] = []


@dataclass
class Access:
    """One line of the server's access log: the client's port, method, path and status."""

    client_port: int
    method: str
    path: str
    status: int


@dataclass
class LlamaServer:
    """A running ``llama_cpp.server`` process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    model_id: str
    log_path: Path
    api_key: str | None = None
    started_in: float = 0.0
    argv: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``/chat/completions`` and ``/models`` below it)."""
        return f"{self.root_url}/v1"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_size(self) -> int:
        """A mark in the log: pass it to `access_log` / `log_since` to see only what followed."""
        return self.log_path.stat().st_size

    def log_since(self, mark: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def access_log(self, mark: int = 0) -> list[Access]:
        """The requests the server logged after ``mark`` (uvicorn's access lines)."""
        return [Access(int(m[1]), m[2], m[3], int(m[4]))
                for m in _ACCESS.finditer(self.log_since(mark))]

    def cpu_ticks(self) -> int:
        """User + system CPU time of the server process so far, in clock ticks (/proc/PID/stat)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_ready(server: LlamaServer, deadline: float) -> str | None:
    """None once ``GET /v1/models`` answers 200; else why not (the process ended, time ran out)."""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"the server exited with {server.process.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/models", headers=server.headers(),
                         timeout=5).status_code == 200:
                return None
        time.sleep(0.1)
    return f"no answer from {server.base_url}/models within {STARTUP_TIMEOUT:g} s"


def start_server(workdir: Path, *, alias: str | None, api_key: str | None) -> LlamaServer:
    """Start one server; `pytest.fail` (CI) or `pytest.skip` (elsewhere) when it cannot start."""
    for path, what in ((LLAMA_PYTHON, "python"), (LLAMA_MODEL, "model")):
        if not path.exists():
            unavailable(f"no llama.cpp {what} at {path}: run scripts/setup-llama.sh")
    port = _free_port()
    argv = [str(LLAMA_PYTHON), "-m", "llama_cpp.server", "--model", str(LLAMA_MODEL),
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX),
            "--n_threads", THREADS]
    argv += ["--model_alias", alias] if alias else []
    argv += ["--api_key", api_key] if api_key else []
    log_path = workdir / f"llama-{port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL, cwd=workdir)
    server = LlamaServer(process, port, "", log_path, api_key, argv=argv)
    why = _wait_until_ready(server, started + STARTUP_TIMEOUT)
    if why is not None:
        server.stop()
        tail = log_path.read_text(errors="replace")[-1500:]
        unavailable(f"llama.cpp server did not start: {why}\n{tail}")
    server.started_in = time.monotonic() - started
    _started.append(f"real_llm: llama.cpp server on port {port} "
                    f"({'alias ' + alias if alias else 'path id'}) answered after "
                    f"{server.started_in:.1f} s")
    listed = httpx.get(f"{server.base_url}/models", headers=server.headers(), timeout=30).json()
    server.model_id = listed["data"][0]["id"]  # the alias, else the --model path as given
    return server


def unavailable(reason: str) -> None:
    """Fail under CI=true (the tests must run there), else skip; the reason is printed."""
    _unavailable.append(reason.splitlines()[0])
    if os.environ.get("CI") == "true":
        pytest.fail(f"real_llm: {reason}", pytrace=False)
    pytest.skip(f"real_llm: {reason}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/real_llm as ``real_llm``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real_llm)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _started:
        terminalreporter.write_line(line)
    for reason in dict.fromkeys(_unavailable):
        terminalreporter.write_line(f"real_llm tests not run: {reason}")


@pytest.fixture(scope="session")
def llama_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llama")


@pytest.fixture(scope="session")
def llama(llama_workdir: Path) -> Iterator[LlamaServer]:
    """The shared server: model id ``smollm2``, no API key."""
    server = start_server(llama_workdir, alias=ALIAS, api_key=None)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llama_path_id(llama_workdir: Path) -> Iterator[LlamaServer]:
    """A second server: no alias (the model id is the GGUF path) and an API key."""
    server = start_server(llama_workdir, alias=None, api_key="llama-" + secrets.token_hex(12))
    try:
        yield server
    finally:
        server.stop()
