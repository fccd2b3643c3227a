"""An ipywidgets 7 kernel (the Databricks stack, .venv-dbr) under JupyterLab 4 (.venv): the live
answer streams as plain outputs, the notebook says once why widgets cannot show and what to
install, and no JavaScript-error box appears (JupyterLab 4 has no widget manager for ipywidgets 7:
"@jupyter-widgets/base ^1.2.0 is not registered")."""

from __future__ import annotations

import pytest
from dbchat_page import FAILED_MARK, numbered_reply, shown_count
from labdriver import LabServer, NotebookPage, wait_for

from dbchat_magic.simulator import LLAMA, Gate

pytestmark = pytest.mark.e2e

WIDGET_ERRORS = ("click to show javascript error", "error displaying widget", "is not registered",
                 "model not found")


def _widget_errors(lab: NotebookPage) -> list[str]:
    text = lab.page.locator(".jp-Notebook").inner_text().lower()
    return [needle for needle in WIDGET_ERRORS if needle in text]


@pytest.mark.parametrize(("width", "theme"), [(1400, "light"), (800, "dark")])
def test_an_ipywidgets7_kernel_streams_plain_outputs_without_an_error_box(
        lab: NotebookPage, lab_server: LabServer, dbr_kernel: str, width: int, theme: str):
    lab.page.set_viewport_size({"width": width, "height": 900})
    name = lab_server.write_notebook(f"e2e-widgets7-{width}", [
        "%load_ext dbchat_magic", f"%%dbchat -e {LLAMA}\nPlease answer e2e-widgets7",
        "%dbchat panel"], kernel=dbr_kernel)
    lab.open(name)
    lab.set_theme(theme == "dark")
    try:
        _plain_outputs_and_no_error_box(lab, lab_server, f"{width}-{theme}")
    finally:
        lab.set_theme(False)  # the lab server is shared: leave its theme as it was


def _plain_outputs_and_no_error_box(lab: NotebookPage, lab_server: LabServer, tag: str) -> None:
    sim, total = lab_server.sim, 30
    sim.script("e2e-widgets7", numbered_reply("w", total))
    gate = Gate(after_tokens=15)  # held half-way until the page shows those words
    sim.set_pacing(gate=gate)
    lab.run_cell(0)
    lab.record_outputs(1)
    try:
        lab.run_cell(1, wait=False)
        wait_for(lambda: shown_count(lab.output_text(1), "w") >= 15, 60,
                 "the first 15 words on the page while the answer is held")
    finally:
        gate.open()
        sim.set_pacing(gate=None)
    lab.wait_cell_done(1, "[*]:", timeout=90)
    samples = lab.recorded()
    final = lab.output_text(1)
    lab.screenshot(f"13-widgets7-plain-outputs-{tag}")
    assert FAILED_MARK not in final, f"the answer failed:\n{final}"
    assert shown_count(final, "w") == total  # the answer is visible
    steps = {shown_count(text, "w") for _, text in samples} - {0, total}
    assert steps, "the answer should stream (show partial text) before it settles"
    assert "live widgets are off" in final and "ipywidgets>=8" in final  # why, what to install
    lab.run_cell(2)
    lab.screenshot(f"13-widgets7-panel-explains-{tag}")
    assert "chat panel needs widgets" in lab.output_text(2)
    assert _widget_errors(lab) == [], lab.page.locator(".jp-Notebook").inner_text()
