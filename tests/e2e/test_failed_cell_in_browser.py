"""A failed answer fails its cell, so Run All stops there (as nbval, papermill and Databricks jobs
do): one short red line, no traceback, and the cells below it are not run (issue 13 item 3)."""

from __future__ import annotations

import pytest
from labdriver import LabServer, NotebookPage, wait_for

pytestmark = pytest.mark.e2e

MISSING = "e2e-no-such-endpoint"


@pytest.mark.parametrize(("width", "theme"), [(1400, "light"), (800, "dark")])
def test_a_failed_answer_stops_run_all(lab: NotebookPage, lab_server: LabServer,
                                       width: int, theme: str) -> None:
    lab.page.set_viewport_size({"width": width, "height": 900})
    name = lab_server.write_notebook(f"e2e-failed-cell-{width}", [
        "%load_ext dbchat_magic",
        f"%%dbchat -e {MISSING}\nThis endpoint does not exist",
        "print('ran after the failure')"])
    lab.open(name)
    lab.set_theme(theme == "dark")
    try:
        _run_all_stops_at_the_failure(lab, width)
    finally:
        lab.set_theme(False)  # the lab server is shared: leave its theme as it was


def _run_all_stops_at_the_failure(lab: NotebookPage, width: int) -> None:
    lab.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    lab.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    lab.wait_cell_done(1, timeout=120)
    # Run All cancels what is queued below a failed cell: its prompt goes back to "[ ]:".
    wait_for(lambda: lab.prompt(2) == "[ ]:", 60, "the cell below the failure to be cancelled")
    lab.screenshot(f"13-failed-cell-stops-run-all-{width}")
    failed = lab.output_text(1)
    assert "✗ failed" in failed and MISSING in failed, failed
    assert "Traceback" not in failed, f"an expected failure shows a traceback:\n{failed}"
    assert "ran after the failure" not in lab.output_text(2)
    error = lab.output(1).locator("[data-mime-type='application/vnd.jupyter.stderr']")
    assert error.count() >= 1, "the failure is not the cell's error output"
