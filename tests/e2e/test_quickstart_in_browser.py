"""The quickstart notebook in JupyterLab: answers and chart are saved and show after reload."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from labdriver import LabServer, NotebookPage, wait_for

pytestmark = pytest.mark.e2e

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "01_quickstart.ipynb"
# The quickstart's in-kernel simulator: one scripted prose answer, then its demo model's charts.
ANSWERS = {
    "How should I start exploring these sales numbers?": "Start with the big picture",
    "Good idea, let's begin with revenue by region.": "Here is the total revenue by region in",
}
CHART_QUESTION = "Good idea, let's begin with revenue by region."


def _fresh_copy(root: Path) -> tuple[str, dict[str, int]]:
    """Copy the quickstart without outputs; map each question to its cell index."""
    nb = nbformat.read(QUICKSTART, as_version=4)
    cells: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            for question in ANSWERS:
                if cell.source.startswith("%%dbchat") and question in cell.source:
                    cells[question] = index
    assert set(cells) == set(ANSWERS), f"the quickstart's questions changed: found {cells}"
    name = "quickstart_run.ipynb"
    nbformat.write(nb, root / name)
    return name, cells


def test_quickstart_answers_survive_save_and_reload(lab: NotebookPage, lab_server: LabServer):
    if not QUICKSTART.exists():
        pytest.fail(f"{QUICKSTART} is missing")
    name, cells = _fresh_copy(lab_server.root)
    lab.open(name)
    lab.run_all()
    for question, index in cells.items():
        shown = lab.output_text(index)
        assert ANSWERS[question] in shown, f"no answer under {question!r}:\n{shown}"
    errors = lab.page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
    assert "Traceback" not in " ".join(errors.all_inner_texts())
    lab.screenshot("05d-quickstart-run")

    saved = lab.save(name)
    for question, index in cells.items():
        markdown = [  # the answer: sanitized text/html, its prose as text/plain
            "".join(o["data"]["text/plain"]) for o in saved["cells"][index]["outputs"]
            if o.get("data", {}).get("text/html")]
        assert any(t.startswith(ANSWERS[question]) for t in markdown), (
            f"the saved notebook lost the answer to {question!r}: {markdown}")
    chart_outputs = saved["cells"][cells[CHART_QUESTION]]["outputs"]
    assert any("image/svg+xml" in o.get("data", {}) for o in chart_outputs), "no chart was saved"

    lab_server.shutdown_kernels()  # nothing live is left: the page shows the saved file
    lab.reload()
    for question, index in cells.items():
        wait_for(lambda i=index, q=question: ANSWERS[q] in lab.output_text(i), 30,
                 f"the answer to {question!r} after reload")
        assert "tok/s" in lab.output_text(index)  # the metrics line was saved too
    wait_for(lambda: lab.output(cells[CHART_QUESTION]).locator("img, svg").count() > 0, 30,
             "the saved chart after reload")
    page_text = lab.page.inner_text("body")  # retired answers refer to no widget model
    assert "Error displaying widget" not in page_text and "model not found" not in page_text
    lab.screenshot("05e-quickstart-after-reload")
