"""Drive a JupyterLab notebook in Chromium: open, run cells, interrupt, read outputs, screenshot.

Every wait is on a page condition (a prompt number, a text, a status), never a fixed sleep, so the
tests hold on a loaded machine. Selectors are JupyterLab 4's own DOM classes.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from dbchat_magic.simulator import Simulator
from waiting import wait_until

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
KERNELSPECS = {
    # The server's own Python (.venv: ipykernel 7.4, ipywidgets 8).
    "python3": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    # DBR 18.x's notebook stack (.venv-dbr18: IPython 8.30, ipykernel 6.29, ipywidgets 7.8).
    "dbr": {"display_name": "Python 3 (Databricks stack)", "language": "python", "name": "dbr"},
}
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
_DONE_PROMPT = re.compile(r"^\[(\d+)\]:$")


_RECORDER_JS = """({panel, index}) => {
  if (window.__e2eObserver) window.__e2eObserver.disconnect();
  const cell = document.querySelectorAll(panel + ' .jp-Notebook .jp-Cell')[index];
  const samples = [];
  let last = null;
  const take = () => {
    const area = cell.querySelector(".jp-Cell-outputArea");
    const text = area ? area.innerText : '';
    if (text !== last) { last = text; samples.push([performance.now(), text]); }
  };
  const observer = new MutationObserver(take);
  observer.observe(cell, {subtree: true, childList: true, characterData: true, attributes: true});
  window.__e2eObserver = observer;
  window.__e2eSamples = samples;
  take();
}"""


@dataclass
class LabServer:
    """A running JupyterLab server: URL, notebook root, simulator, the kernels' config dir."""

    url: str
    root: Path
    sim: Simulator
    config_dir: Path

    def reset_settings(self) -> None:
        """Forget the dbchat settings the kernels saved (e.g. the panel's endpoint choice)."""
        for path in self.config_dir.glob("*"):
            if path.is_file():
                path.unlink()

    def write_notebook(self, name: str, cells: list[str], kernel: str = "python3") -> str:
        """Write a notebook of code ``cells`` for ``kernel`` into the root; returns its name."""
        nb = new_notebook(metadata={"kernelspec": KERNELSPECS[kernel]})
        nb.cells = [new_code_cell(src) for src in cells]
        path = self.root / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path.name

    def api(self, method: str, path: str) -> Any:
        """Call the Jupyter server REST API; returns the decoded JSON body (or None)."""
        req = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def saved_notebook(self, name: str) -> dict[str, Any]:
        """The notebook as saved on disk by the server."""
        return json.loads((self.root / name).read_text())

    def shutdown_kernels(self) -> None:
        """Shut down every kernel session (keeps the 2-core machine free between tests)."""
        for session in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{session['id']}")


def record_measurement(name: str, value: float | int | str) -> None:
    """Add a measured number to ``test-artifacts/e2e/measurements.json`` (for the report)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "measurements.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = value
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


def wait_for(condition: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.05) -> Any:
    """`waiting.wait_until` in this module's argument order (timeout before what)."""
    return wait_until(condition, what, timeout, interval)


class NotebookPage:
    """One browser page showing one notebook in JupyterLab."""

    def __init__(self, page: Any, server: LabServer) -> None:
        self.page = page
        self.server = server
        self.external_requests: list[str] = []
        page.on("request", self._record_request)

    def _record_request(self, request: Any) -> None:
        url = request.url
        if not url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            self.external_requests.append(url)

    # -- navigation -------------------------------------------------------------------------
    def open(self, name: str, timeout: float = 90) -> None:
        """Open ``name`` in JupyterLab and wait until its kernel is idle."""
        # ?reset: start from a clean workspace, so notebooks of earlier tests are not reopened.
        self.page.goto(f"{self.server.url}/lab/tree/{name}?reset")
        self.wait_kernel_idle(timeout)

    def reload(self, timeout: float = 90) -> None:
        """Reload the browser page and wait for the notebook's kernel to be idle again."""
        self.page.reload()
        self.wait_kernel_idle(timeout)

    def wait_kernel_idle(self, timeout: float = 90) -> None:
        """Wait until the status bar says the kernel is idle (it has started and is ready)."""
        self.page.locator(f"{PANEL} .jp-Notebook .jp-Cell").first.wait_for(timeout=timeout * 1000)
        status = self.page.locator(".jp-StatusBar-Widget", has_text="| Idle")
        status.first.wait_for(timeout=timeout * 1000)

    # -- cells ------------------------------------------------------------------------------
    def cell(self, index: int) -> Any:
        """Locator of the ``index``-th cell (code or Markdown) of the visible notebook."""
        return self.page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(index)

    def prompt(self, index: int) -> str:
        """The input prompt text of a code cell: ``[ ]:``, ``[*]:`` or ``[N]:``."""
        return self.cell(index).locator(".jp-InputPrompt").inner_text().strip()

    def run_cell(self, index: int, *, wait: bool = True, timeout: float = 60) -> None:
        """Select cell ``index`` and press Shift+Enter; by default wait until it has finished."""
        before = self.prompt(index)
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")
        if wait:
            self.wait_cell_done(index, before, timeout)
        else:
            wait_for(lambda: self.prompt(index) != before, timeout, f"cell {index} to start")

    def run_all(self, timeout: float = 120) -> None:
        """Run > Run All Cells, then wait until every code cell shows an execution count."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        cells = self.page.locator(f"{PANEL} .jp-Notebook .jp-CodeCell .jp-InputPrompt")

        def all_done() -> bool:
            prompts = [p.strip() for p in cells.all_inner_texts()]
            done = [bool(_DONE_PROMPT.match(p)) for p in prompts]
            if any(done) and not all(done) and "[*]:" not in prompts:
                # Run All stops at the first error: say which cell failed and how.
                first = done.index(False)
                raise AssertionError(f"Run All stopped before code cell {first}: "
                                     f"{self.page.locator(PANEL).inner_text()[-2000:]}")
            return bool(prompts) and all(done)

        wait_for(all_done, timeout, "every code cell to run", interval=0.25)

    def wait_cell_running(self, index: int, timeout: float = 30) -> None:
        """Wait until the cell shows ``[*]:`` (it is executing or queued)."""
        wait_for(lambda: self.prompt(index) == "[*]:", timeout, f"cell {index} to run")

    def wait_cell_done(self, index: int, before: str = "", timeout: float = 60) -> int:
        """Wait until the cell shows a new execution count ``[N]:``; returns N."""

        def done() -> int | None:
            text = self.prompt(index)
            match = _DONE_PROMPT.match(text)
            return int(match.group(1)) if match and text != before else None

        return int(wait_for(done, timeout, f"cell {index} to finish (prompt {before!r})"))

    def output(self, index: int) -> Any:
        """Locator of the output area of cell ``index``."""
        return self.cell(index).locator(".jp-Cell-outputArea")

    def output_text(self, index: int) -> str:
        """Everything the output area of cell ``index`` shows, as text."""
        area = self.output(index)
        return area.inner_text() if area.count() else ""

    # -- watching a cell change -------------------------------------------------------------
    def record_outputs(self, index: int) -> None:
        """Start recording every distinct text of cell ``index``'s outputs, time-stamped in-page.

        A MutationObserver samples on each DOM change, so no step of a stream is missed between
        polls; read the samples with `recorded`.
        """
        self.page.evaluate(_RECORDER_JS, {"panel": PANEL, "index": index})

    def recorded(self) -> list[tuple[float, str]]:
        """(``performance.now()`` ms, output text) for each change seen since `record_outputs`."""
        return [(float(t), str(text)) for t, text in self.page.evaluate("window.__e2eSamples")]

    def first_recorded(self, needle: str, since_ms: float) -> float | None:
        """When ``needle`` first showed in the recorded outputs since ``since_ms`` (or None)."""
        return next((t for t, text in self.recorded() if t >= since_ms and needle in text), None)

    def now_ms(self) -> float:
        """The page's ``performance.now()`` (same clock as `recorded`)."""
        return float(self.page.evaluate("performance.now()"))

    def interrupt(self) -> None:
        """Press the notebook toolbar's interrupt button (■)."""
        self.page.locator(f"{PANEL} .jp-Toolbar-item[data-jp-item-name='interrupt']").click()

    def save(self, name: str, timeout: float = 30) -> dict[str, Any]:
        """Press the toolbar's save button; once the page says saved and the file on disk has
        changed and is whole, return its JSON (the server truncates, then writes)."""
        path = self.server.root / name
        before = path.stat().st_mtime_ns
        self.page.locator(f"{PANEL} .jp-Toolbar-item[data-jp-item-name='save']").click()
        dirty = self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty")

        def saved() -> dict[str, Any] | None:
            if path.stat().st_mtime_ns == before or dirty.count():
                return None
            try:
                return self.server.saved_notebook(name)
            except json.JSONDecodeError:
                return None

        return dict(wait_for(saved, timeout, f"{name} to be saved"))

    def set_theme(self, dark: bool) -> None:
        """Settings → Theme → JupyterLab Dark/Light, then wait for the page to say so (the
        choice is saved in the server's settings: set it back when done)."""
        page = self.page
        page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
        page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
        page.locator(".lm-Menu-itemLabel",
                     has_text="JupyterLab Dark" if dark else "JupyterLab Light").first.click()
        want = "false" if dark else "true"
        wait_for(lambda: page.evaluate("document.body.dataset.jpThemeLight") == want, 60,
                 f"the theme to switch (jpThemeLight={want})")

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot to ``test-artifacts/e2e/<name>.png``."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
