"""Stop where the kernel is idle (the ChatPanel, a ``--background`` cell) and a chart that draws
while its answer still streams, as a user sees them in JupyterLab.

The simulator scripts numbered answers (``p001 p002 …``) so each test can read how much of the
answer is on screen; "stopped" must show long before the answer would have ended (the 1 s target
is measured by bench/bench_frontend.py and recorded in the junit xml).
"""

from __future__ import annotations

from typing import Any

import pytest
from dbchat_page import (
    FAILED_MARK,
    QUESTION_BOX,
    SEND_BUTTON,
    STOP_BUTTON,
    STOP_DEADLINE_MS,
    drawn_charts,
    numbered_reply,
    shown_count,
)
from labdriver import LabServer, NotebookPage, record_measurement, wait_for

from dbchat_magic.simulator import LLAMA, Gate, tokenize

pytestmark = pytest.mark.e2e

LONG = 400  # words of a long answer: ~33 s at 12 tok/s, far longer than any stop takes
PANEL_CELLS = ["%load_ext dbchat_magic",
               "from dbchat_magic import ChatPanel\npanel = ChatPanel()\npanel"]
REGIONS = ["North", "South", "East", "West"]
FRAME_CELL = (
    "import pandas as pd\n"
    "sales = pd.DataFrame({'region': ['North', 'South', 'East', 'West'] * 5,\n"
    "                      'revenue': [float(i % 7 + 1) for i in range(20)]})"
)
SPEC = ('{"widget":"chart","data":"sales","mark":"bar",'
        '"x":{"field":"region","type":"nominal"},'
        '"y":{"field":"revenue","aggregate":"sum","type":"quantitative"}}')
TAIL = 200  # prose words after the chart's spec block
HELD_AT = 20  # the stream waits at a gate before this prose word until the chart is drawn


def _words_at_least(lab: NotebookPage, index: int, prefix: str, count: int) -> None:
    """Wait until ``count`` leading words of the answer show in cell ``index`` (no failure)."""

    def shown() -> bool:
        text = lab.output_text(index)
        assert FAILED_MARK not in text, f"the answer failed:\n{text}"
        return shown_count(text, prefix) >= count

    wait_for(shown, 60, f"{count} words {prefix}001… in cell {index}")


def _click_stop_and_check(lab: NotebookPage, lab_server: LabServer, index: int, prefix: str,
                          how: str) -> int:
    """Click the Stop button of cell ``index``; check "stopped" shows within the deadline, the
    simulator saw the connection close and the partial answer stays; returns the words kept."""
    stop = lab.cell(index).locator(STOP_BUTTON).first
    assert stop.is_visible() and stop.is_enabled(), (
        f"no usable Stop button while the answer streams: {lab.output_text(index)[:300]!r}")
    clicked = lab.now_ms()
    stop.click()

    def settled() -> bool:
        """The status line says why it stopped and the metrics line has come."""
        text = lab.output_text(index)
        return "■ stopped after" in text and "tok/s" in text

    try:
        wait_for(settled, 60, "the stopped answer to settle")
    except AssertionError as err:
        raise AssertionError(f"{err}; the output says:\n{lab.output_text(index)[-600:]}") from None
    stopped_at = lab.first_recorded("stopped", clicked)
    assert stopped_at is not None, f"never recorded 'stopped':\n{lab.output_text(index)}"
    delay = stopped_at - clicked
    record_measurement(f"stopped_shown_ms_after_{how}", round(delay))
    assert delay <= STOP_DEADLINE_MS, f"'stopped' appeared {delay:.0f} ms after the click"
    sim = lab_server.sim
    wait_for(lambda: sim.stats.disconnects, 60, "the simulator to see the connection close")
    final = lab.output_text(index)
    kept = shown_count(final, prefix)
    assert 5 <= kept < LONG, f"the partial answer should stay: {kept} of {LONG} words shown"
    assert "Traceback" not in final, f"a stop must not show a traceback:\n{final}"
    assert sim.stats.disconnects[0].tokens_sent >= kept
    return kept


def test_panel_stop_mid_stream_then_next_question(lab: NotebookPage, lab_server: LabServer):
    """The panel's Stop ends a streaming answer, keeps its words; the next question completes."""
    sim = lab_server.sim
    sim.script("e2e-panel-stop-first", numbered_reply("p", LONG))
    sim.script("e2e-panel-stop-second", numbered_reply("a", 20))
    sim.set_pacing(tokens_per_second=12)
    name = lab_server.write_notebook("panel_stop", PANEL_CELLS)
    lab.open(name)
    lab.run_cell(0)
    lab.run_cell(1, timeout=90)
    panel = lab.cell(1)
    panel.locator(QUESTION_BOX).first.fill("A long answer please, e2e-panel-stop-first")
    lab.record_outputs(1)
    panel.locator(SEND_BUTTON).first.click()
    _words_at_least(lab, 1, "p", 5)
    lab.screenshot("06a-panel-streaming")

    kept = _click_stop_and_check(lab, lab_server, 1, "p", "panel_stop_click")
    lab.screenshot("06b-panel-stopped")

    sim.set_pacing(tokens_per_second=40)
    panel.locator(QUESTION_BOX).first.fill("And a short one, e2e-panel-stop-second")
    panel.locator(SEND_BUTTON).first.click()

    def answered() -> bool:
        text = lab.output_text(1)
        assert FAILED_MARK not in text, f"the second answer failed:\n{text}"
        return shown_count(text, "a") == 20

    wait_for(answered, 60, "the panel to show the whole second answer a001..a020")
    lab.screenshot("06c-panel-second-answer")
    final = lab.output_text(1)
    assert shown_count(final, "p") == kept, "the stopped answer changed after the next question"
    assert len(sim.stats.disconnects) == 1


def test_background_cell_stop_then_status(lab: NotebookPage, lab_server: LabServer):
    """A ``--background`` cell returns at once; Stop keeps the partial answer; status "stopped"."""
    sim = lab_server.sim
    sim.script("e2e-background-stop", numbered_reply("b", LONG))
    sim.set_pacing(tokens_per_second=12)
    name = lab_server.write_notebook("background_stop", [
        "%load_ext dbchat_magic",
        f"%%dbchat --background -o bg -e {LLAMA}\nA long answer please, e2e-background-stop",
        "print(bg.status)"])
    lab.open(name)
    lab.run_cell(0)
    lab.record_outputs(1)
    lab.run_cell(1)  # returns with an execution count while the answer has barely started
    lab.wait_kernel_idle(30)
    _words_at_least(lab, 1, "b", 5)
    assert shown_count(lab.output_text(1), "b") < LONG
    lab.screenshot("06d-background-streaming")

    _click_stop_and_check(lab, lab_server, 1, "b", "background_stop_click")
    lab.screenshot("06e-background-stopped")
    lab.run_cell(2)
    assert lab.output_text(2).strip() == "stopped"


def test_chart_draws_while_prose_streams(lab: NotebookPage, lab_server: LabServer):
    """A spec block that closes early draws its chart while the prose after it still streams.

    The simulator holds the stream at a gate after ``HELD_AT`` prose words, so the prose cannot
    end before the test has looked, however slow the machine is; the gate opens once the chart
    is on screen (or the look has failed).
    """
    sim = lab_server.sim
    head = f"```json\n{SPEC}\n```\n\n"
    reply = head + numbered_reply("t", TAIL)
    gate = Gate(after_tokens=len(tokenize(head + numbered_reply("t", HELD_AT))))
    sim.script("e2e-live-chart", reply)
    sim.set_pacing(tokens_per_second=15, gate=gate)
    name = lab_server.write_notebook("live_chart", [
        "%load_ext dbchat_magic", FRAME_CELL,
        f"%%dbchat -e {LLAMA} -d sales\nChart revenue by region, then explain (e2e-live-chart)"])
    try:
        lab.open(name)
        lab.run_cell(0)
        lab.run_cell(1)
        lab.run_cell(2, wait=False)
        cell = lab.cell(2)

        def drawn_mid_stream() -> tuple[list[dict[str, Any]], int, bool] | None:
            """The charts on screen, the words shown and whether the cell runs; None without a
            chart (fails once the prose has ended with no chart)."""
            running = lab.prompt(2) == "[*]:"
            charts = drawn_charts(lab.page, cell)
            text = lab.output_text(2)
            assert FAILED_MARK not in text, f"the answer failed:\n{text}"
            words = shown_count(text, "t")
            if charts:
                return charts, words, running
            assert words < TAIL and running, f"the prose ended before any chart showed:\n{text}"
            return None

        charts, words, running = wait_for(drawn_mid_stream, 120, "a chart while the answer streams")
        assert gate.reached.is_set() or words < HELD_AT, "the stream passed a shut gate"
    finally:
        gate.open()
        sim.set_pacing(gate=None)
    lab.screenshot("06f-live-chart-mid-stream")
    record_measurement("live_chart_words_shown_when_drawn", words)
    assert running and words < TAIL, (
        f"the chart showed only after the prose ended ({words} of {TAIL} words)")
    assert len(charts) == 1 and charts[0]["bars"] in (None, len(REGIONS)), charts

    lab.wait_cell_done(2, "[*]:", timeout=90)
    final = lab.output_text(2)
    assert shown_count(final, "t") == TAIL
    settled = wait_for(lambda: drawn_charts(lab.page, cell), 30, "the chart after the answer")
    lab.screenshot("06g-live-chart-settled")
    assert len(settled) == 1, f"expected one chart after the answer settled, found {settled}"
    assert settled[0]["bars"] in (None, len(REGIONS)), settled
    if settled[0]["bars"] is not None:  # an SVG chart: its axis names the regions
        missing = [r for r in REGIONS if r not in settled[0]["labels"]]
        assert not missing, f"axis labels {missing} missing: {settled}"
    assert "chart not drawn" not in final and "Traceback" not in final
