"""The ChatPanel's compare mode in JupyterLab 4 + Chromium at 1,400 and 800 px (issue 14 item 2).

The user unfolds ⚙, picks a second endpoint in "compare with", presses Enter: each endpoint's
answer streams into its own column of the turn — side by side at 1,400 px, stacked at 800 px —
and the turn ends with the table (first token, total, tokens, tok/s, cost, status). Screenshots go
to test-artifacts/e2e/.
"""

from __future__ import annotations

from typing import Any

import pytest
from dbchat_page import FAILED_MARK, numbered_reply, shown_count
from labdriver import LabServer, NotebookPage, wait_for

from dbchat_magic.simulator import CLAUDE, LLAMA, Gate

pytestmark = pytest.mark.e2e

CELLS = ["from dbchat_magic import ChatPanel\n\npanel = ChatPanel(conversation='e2e-compare')\n"
         "panel"]
PREFIXES = {LLAMA: "l", CLAUDE: "c"}
WORDS = 40

# The two columns of the newest compare turn and the panel, as boxes.
_COLUMNS_JS = """(cell) => {
  const turns = cell.querySelectorAll('.dbchat-compare-turn');
  const cols = turns[turns.length - 1].querySelectorAll('.dbchat-compare-column');
  const box = el => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width}; };
  const summary = turns[turns.length - 1].querySelector('.dbchat-compare-summary');
  const table = summary.querySelector('.dbchat-compare-table');
  return {panel: box(cell.querySelector('.dbchat-panel')), columns: [...cols].map(box),
          summary: box(summary), clipped: summary.scrollWidth > summary.clientWidth + 1
            || table.scrollWidth > table.clientWidth + 1};
}"""


def _by_endpoint(request: Any) -> str:
    return numbered_reply(PREFIXES.get(request.endpoint, "x"), WORDS)


def _pick_compare(lab: NotebookPage) -> None:
    """⚙, then "compare with" the second endpoint (as a user's click selects it), ⚙ again."""
    cell = lab.cell(0)
    cell.locator(".dbchat-settings-toggle").first.click()
    select = cell.locator(".dbchat-compare-with select").first
    wait_for(lambda: CLAUDE in select.inner_text(), 60, "the endpoint list in “compare with”")
    select.select_option(label=CLAUDE)
    send = cell.locator("button.dbchat-send").first
    wait_for(lambda: "Send to 2" in send.inner_text(), 30, "the Send button to say “Send to 2”")
    cell.locator(".dbchat-settings-toggle").first.click()


def _ask(lab: NotebookPage, question: str) -> None:
    box = lab.cell(0).locator(".dbchat-question-line input").first
    box.click()
    box.fill(question)
    box.press("Enter")
    table = lab.cell(0).locator(".dbchat-compare-turn .dbchat-compare-table").first

    def answered() -> bool:
        shown = lab.output_text(0)
        assert FAILED_MARK not in shown, f"a compare answer failed:\n{shown}"
        return all(shown_count(shown, p) == WORDS for p in PREFIXES.values()) and table.count() > 0

    wait_for(answered, 120, "both columns to show their whole answer and the table")


@pytest.mark.parametrize("width", [1400, 800])
def test_compare_mode_streams_columns_side_by_side_or_stacked(lab: NotebookPage,
                                                              lab_server: LabServer,
                                                              width: int) -> None:
    sim = lab_server.sim
    sim.responder = _by_endpoint
    try:
        lab.page.set_viewport_size({"width": width, "height": 1000})
        name = lab_server.write_notebook(f"panel-compare-{width}", CELLS)
        lab.open(name)
        lab.run_cell(0, timeout=90)
        lab.cell(0).locator(".dbchat-panel").first.wait_for(timeout=60_000)
        _pick_compare(lab)
        _ask(lab, "Which of you explains it best?")
        assert sim.stats.requests_by_endpoint.get(LLAMA) == 1
        assert sim.stats.requests_by_endpoint.get(CLAUDE) == 1
        rows = lab.cell(0).locator(".dbchat-compare-turn .dbchat-compare-table tr")
        assert rows.count() == 3, "the table has a head and one row per endpoint"
        table = lab.cell(0).locator(".dbchat-compare-turn .dbchat-compare-table").first
        assert "tok/s" in table.inner_text() and "completed" in table.inner_text()
        boxes = lab.page.evaluate(_COLUMNS_JS, lab.cell(0).element_handle())
        first, second = boxes["columns"]
        panel = boxes["panel"]
        for col in (first, second):
            assert panel["left"] - 1 <= col["left"] and col["right"] <= panel["right"] + 1, boxes
        summary = boxes["summary"]
        assert summary["right"] <= panel["right"] + 1 and not boxes["clipped"], (
            f"the table or its note is cut off at {width} px: {boxes}")
        if width > 800:
            assert second["left"] >= first["right"] - 1 and abs(second["top"] - first["top"]) < 2, (
                f"the columns are not side by side at {width} px: {boxes}")
        else:
            assert second["top"] >= first["bottom"] - 1, f"not stacked at {width} px: {boxes}"
            assert first["width"] >= panel["width"] * 0.8, f"a stacked column is narrow: {boxes}"
        lab.cell(0).locator(".dbchat-compare-table").first.scroll_into_view_if_needed()
        lab.screenshot(f"14-panel-compare-{width}")
        if width > 800:
            _stop_both(lab, sim)
    finally:
        sim.responder = None
        sim.set_pacing(tokens_per_second=None)


def _stop_both(lab: NotebookPage, sim: Any) -> None:
    """The panel's one Stop, clicked while both columns stream, stops both (amber lines)."""
    sim.responder = None  # 60-token default answers, held mid-way until the Stop
    gate = Gate(after_tokens=10)
    sim.set_pacing(gate=gate)
    try:
        box = lab.cell(0).locator(".dbchat-question-line input").first
        box.click()
        box.fill("A long story from both")
        box.press("Enter")
        turn = lab.cell(0).locator(".dbchat-compare-turn").last
        columns = turn.locator(".dbchat-compare-column")
        wait_for(lambda: columns.count() == 2
                 and "Simulated answer" in columns.nth(1).inner_text()
                 and "Simulated answer" in columns.nth(0).inner_text()
                 and lab.cell(0).locator(".dbchat-compare-turn").count() == 2, 60,
                 "both columns of the second question to stream")
        lab.cell(0).locator("button.dbchat-stop").first.click()
        stopped = turn.locator(".dbchat-outcome", has_text="■ stopped after")
        wait_for(lambda: stopped.count() == 2 and stopped.nth(0).is_visible()
                 and stopped.nth(1).is_visible(), 60, "both columns to say ■ stopped (amber)")
    finally:
        gate.open()
        sim.set_pacing(gate=None)
    assert turn.locator(".dbchat-compare-table tr").count() == 3
    assert turn.locator(".dbchat-compare-table").first.inner_text().count("stopped") == 2
    lab.screenshot("14-panel-compare-stopped-1400")
