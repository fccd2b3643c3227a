"""Browser end-to-end fixtures: one JupyterLab server and one headless Chromium per session.

The server runs on 127.0.0.1 on a free port with no token, in a temporary root, with news,
update checks and the PyPI extension manager switched off; its kernels inherit the simulator's
environment (``DATABRICKS_HOST``/``DATABRICKS_TOKEN``). Chromium resolves no host other than
127.0.0.1, so anything that tries to reach the internet fails visibly instead of hanging.

Without Chromium or playwright the tests skip locally; with ``CI`` set they fail instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labdriver import ARTIFACTS, LabServer, NotebookPage

from dbchat_magic.simulator import Simulator

CHROMIUM = os.environ.get("DBCHAT_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
    "--disable-dev-shm-usage",
    # Offline by construction: every host except the loopback fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
# JupyterLab user settings written into the server's private settings dir.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Render every cell (no virtual scrolling), so locators always find them.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
_SERVER_START_TIMEOUT = 90.0
_ROOT = Path(__file__).resolve().parents[2]
# DBR 18.x's notebook stack (scripts/setup-venvs.sh); an older checkout's .venv-dbr otherwise.
DBR_PYTHON = next((p for p in (_ROOT / ".venv-dbr18" / "bin" / "python",
                               _ROOT / ".venv-dbr" / "bin" / "python") if p.exists()),
                  _ROOT / ".venv-dbr18" / "bin" / "python")


E2E_TIMEOUT = 300  # seconds per test: a browser, a kernel and a stream on a busy 2-core machine


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/e2e with ``e2e`` (so ``-m "not e2e"`` deselects it) and give
    it a longer per-test timeout than the suite's default."""
    for item in items:
        if _is_e2e(item):
            item.add_marker(pytest.mark.e2e)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(E2E_TIMEOUT))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can screenshot failures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _missing_requirement() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install dbchat-magic[e2e])"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab is not installed (pip install dbchat-magic[e2e])"
    return None


@pytest.fixture(scope="session")
def e2e_requirements() -> None:
    """Skip (locally) or fail (in CI) when Chromium, playwright or JupyterLab is missing."""
    reason = _missing_requirement()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"e2e tests must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def e2e_sim(e2e_requirements: None) -> Iterator[Simulator]:
    """The simulator the browser's kernels talk to (lives in the test process)."""
    with Simulator() as sim:
        yield sim


def _server_env(base: Path, sim: Simulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    dirs = {
        "JUPYTER_CONFIG_DIR": "jupyter-config", "JUPYTER_DATA_DIR": "jupyter-data",
        "JUPYTER_RUNTIME_DIR": "jupyter-runtime", "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces", "IPYTHONDIR": "ipython",
        "DBCHAT_CONFIG_DIR": "dbchat-config",
    }
    for var, name in dirs.items():
        (base / name).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / name)
    env["DATABRICKS_CONFIG_FILE"] = str(base / "no-databrickscfg")
    env.update(sim.env())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _write_dbr_kernelspec(data_dir: Path) -> None:
    """Offer the Databricks-stack venv as a second kernel ("dbr"), when it exists."""
    if not DBR_PYTHON.exists():
        return
    spec = {
        "argv": [str(DBR_PYTHON), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Databricks stack)", "language": "python",
        "metadata": {"debugger": False},
    }
    path = data_dir / "kernels" / "dbr" / "kernel.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec))


@pytest.fixture(scope="session")
def dbr_kernel(lab_server: LabServer) -> str:
    """The kernel name of the Databricks stack; skips locally (fails in CI) without .venv-dbr."""
    if not DBR_PYTHON.exists():
        reason = f"{DBR_PYTHON} is missing (scripts/setup-venvs.sh all)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return "dbr"


def _write_lab_settings(settings_dir: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + _SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{tail}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    pytest.fail(f"JupyterLab did not answer within {_SERVER_START_TIMEOUT:.0f} s (log: {log})",
                pytrace=False)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server (it shuts its kernels down), then kill its process group if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def lab_server(
    e2e_sim: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1:<free port>, no token, rooted in a temp dir of test notebooks."""
    base = tmp_path_factory.mktemp("e2e-lab")
    root = base / "root"
    root.mkdir()
    env = _server_env(base, e2e_sim)
    _write_lab_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]))
    _write_dbr_kernelspec(Path(env["JUPYTER_DATA_DIR"]))
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "jupyterlab.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly", "--ServerApp.open_browser=False",
        "--ContentsManager.allow_hidden=False", "--ServerApp.disable_check_xsrf=True",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(proc, url, log)
        yield LabServer(url=url, root=root, sim=e2e_sim,
                        config_dir=Path(env["DBCHAT_CONFIG_DIR"]))
    finally:
        _stop(proc)


class _Chromium:
    """Playwright driving Debian's Chromium, started on first use and stopped as soon as the e2e
    tests are over: its sync API marks an event loop as running in this thread, which would break
    ``asyncio.run()`` in any test that runs after them in the same process."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None

    def get(self) -> Any:
        """The running browser (launched headless on first call; never a downloaded browser)."""
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        return self._browser

    def stop(self) -> None:
        """Close the browser and stop Playwright (its event loop with it); safe to repeat."""
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        if browser is not None:
            browser.close()
        if playwright is not None:
            playwright.stop()


_CHROMIUM = _Chromium()


def _is_e2e(item: pytest.Item | None) -> bool:
    return item is not None and Path(__file__).parent in Path(str(item.path)).parents


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last e2e test (fixtures already torn down), stop Playwright."""
    if not _is_e2e(nextitem):
        _CHROMIUM.stop()


@pytest.fixture
def browser(e2e_requirements: None) -> Any:
    """Debian's Chromium, headless, shared by the e2e tests of this session."""
    return _CHROMIUM.get()


@pytest.fixture
def lab(
    lab_server: LabServer, browser: Any, request: pytest.FixtureRequest
) -> Iterator[NotebookPage]:
    """A fresh browser page on the server; screenshots on failure, shuts its kernels down after,
    and fails the test if the page tried to reach anything but the loopback."""
    lab_server.reset_settings()
    sim = lab_server.sim
    sim.reset_stats()
    sim.faults.clear()
    sim.set_pacing(tokens_per_second=None, first_token_delay=0.0)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    driver = NotebookPage(page, lab_server)
    try:
        yield driver
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            driver.screenshot(f"FAILED-{request.node.name}")
        context.close()
        lab_server.shutdown_kernels()
    assert driver.external_requests == [], f"the page went online: {driver.external_requests}"


@pytest.fixture(scope="session", autouse=True)
def _clean_artifacts() -> None:
    """Start each session with an empty screenshot folder (the server log is rewritten anyway)."""
    if ARTIFACTS.exists():
        for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("measurements.json")]:
            old.unlink()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
