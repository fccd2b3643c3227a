"""The browser harness: JupyterLab serves, kernels run cells, ■ interrupts, nothing goes online."""

from __future__ import annotations

import re

import pytest
from labdriver import LabServer, NotebookPage

pytestmark = pytest.mark.e2e


def test_print_cell_output_appears(lab: NotebookPage, lab_server: LabServer) -> None:
    name = lab_server.write_notebook("plain", [
        "print('hello from the e2e kernel', 6 * 7)",
        "import os\nprint('host=' + os.environ.get('DATABRICKS_HOST', 'unset'))",
        "import time\nfor i in range(600):\n    time.sleep(0.1)",
        "print('after interrupt')",
    ])
    lab.open(name)

    lab.run_cell(0)
    assert lab.output_text(0).strip() == "hello from the e2e kernel 42"

    # The kernels inherit the simulator's environment from the server.
    lab.run_cell(1)
    assert lab.output_text(1).strip() == f"host={lab_server.sim.url}"

    # ■ interrupts a running cell and the kernel takes the next one.
    lab.run_cell(2, wait=False)
    lab.wait_cell_running(2)
    lab.interrupt()
    lab.wait_cell_done(2, "[*]:", timeout=30)
    assert "KeyboardInterrupt" in lab.output_text(2)
    lab.run_cell(3)
    assert lab.output_text(3).strip() == "after interrupt"
    assert re.fullmatch(r"\[\d+\]:", lab.prompt(3))

    lab.screenshot("00-plain-notebook")
    assert lab.external_requests == [], f"the page tried to go online: {lab.external_requests}"
    # The offline guard works: a deliberate fetch fails, and the recorder sees it.
    outcome = lab.page.evaluate(
        "fetch('http://example.com/').then(() => 'online', () => 'offline')")
    assert outcome == "offline", "the browser reached the internet: offline checks prove nothing"
    assert lab.external_requests == ["http://example.com/"]
    lab.external_requests.clear()
