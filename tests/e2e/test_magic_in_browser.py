"""``%%dbchat`` as a user sees it in JupyterLab: streaming steps, metrics, Stop click and ■.

The simulator (in this process) scripts numbered answers (``s001 s002 …``) so each test can read
exactly how much of the answer is on screen at every DOM change.
"""

from __future__ import annotations

import re

import pytest
from dbchat_page import FAILED_MARK, STOP_BUTTON, STOP_DEADLINE_MS, numbered_reply, shown_count
from labdriver import LabServer, NotebookPage, record_measurement, wait_for

from dbchat_magic.simulator import LLAMA
from waiting import Steps

pytestmark = pytest.mark.e2e

METRICS_RE = re.compile(
    r"first token \d+ ms · total [\d.]+ s · (\d+) tokens · [\d.]+ tok/s · " + re.escape(LLAMA)
)


def _ask_cell(question: str) -> str:
    return f"%%dbchat -e {LLAMA}\n{question}"


def test_answer_grows_on_screen_then_metrics_footer(lab: NotebookPage, lab_server: LabServer):
    sim = lab_server.sim
    total = 40
    sim.script("e2e-grows-on-screen", numbered_reply("s", total))
    steps = Steps(10, 20, 30)  # held at each until the page shows it: 3 steps whatever the load
    sim.set_pacing(tokens_per_second=10, gate=steps)  # at most 10 renders a second
    name = lab_server.write_notebook("stream_steps", [
        "%load_ext dbchat_magic", _ask_cell("Please answer e2e-grows-on-screen")])
    lab.open(name)
    lab.run_cell(0)
    assert lab.output_text(0).strip() == ""

    lab.record_outputs(1)
    try:
        lab.run_cell(1, wait=False)
        for i, words in enumerate((10, 20, 30)):
            wait_for(lambda n=words: shown_count(lab.output_text(1), "s") >= n, 60,
                     f"{words} words on the page while the answer is held")
            steps.release(i)
    finally:
        steps.open()
        sim.set_pacing(gate=None)
    lab.wait_cell_done(1, "[*]:", timeout=90)
    samples = lab.recorded()
    lab.screenshot("01-streamed-answer")

    final = lab.output_text(1)
    assert FAILED_MARK not in final, f"the answer failed:\n{final}"
    counts = [shown_count(text, "s") for _, text in samples]
    partial = [c for c in counts if 0 < c < total]
    record_measurement("stream_steps_seen", len(set(partial)))
    assert len(set(partial)) >= 3, f"the text should grow in >= 3 steps; saw {counts}"
    assert partial == sorted(partial), f"the text went backwards: {counts}"
    # The metrics footer comes at the end, not while the text is still growing.
    first_full = counts.index(total)
    assert not any(METRICS_RE.search(t) for _, t in samples[:first_full])
    assert shown_count(final, "s") == total
    footer = METRICS_RE.search(final)
    assert footer is not None, f"no metrics footer in:\n{final}"
    assert int(footer.group(1)) == total
    assert sim.stats.requests_by_endpoint[LLAMA] == 1


def _start_long_answer(lab: NotebookPage, lab_server: LabServer, tag: str, total: int,
                       next_cell: str = "print('the next cell ran')",
                       kernel: str = "python3") -> str:
    """Open a notebook whose cell 1 asks for a long, slow answer; start it, wait until 5 words
    show (what the kernel has received, so a stop now must keep at least those)."""
    sim = lab_server.sim
    sim.script(tag, numbered_reply("c", total))
    sim.set_pacing(tokens_per_second=12)
    cells = ["%load_ext dbchat_magic", _ask_cell(f"A long answer please, {tag}"), next_cell]
    name = lab_server.write_notebook(tag, cells, kernel=kernel)
    lab.open(name)
    lab.run_cell(0)
    lab.record_outputs(1)
    lab.run_cell(1, wait=False)

    def started() -> bool:
        shown = lab.output_text(1)
        assert FAILED_MARK not in shown, f"the answer failed:\n{shown}"
        return shown_count(shown, "c") >= 5

    wait_for(started, 60, "5 words of the answer")
    return name


def _assert_stopped_in_time(lab: NotebookPage, clicked_ms: float, total: int, how: str,
                            screenshot: str) -> int:
    """"stopped" shows within the deadline; returns how many answer words stayed on screen."""
    lab.wait_cell_done(1, "[*]:", timeout=120)  # generous: the CI machine is loaded
    lab.screenshot(screenshot)
    samples = lab.recorded()
    stopped_at = next((t for t, text in samples if t >= clicked_ms and "stopped" in text), None)
    assert stopped_at is not None, f"never showed 'stopped':\n{lab.output_text(1)}"
    delay = stopped_at - clicked_ms
    record_measurement(f"stopped_shown_ms_after_{how}", round(delay))
    assert delay <= STOP_DEADLINE_MS, f"'stopped' appeared {delay:.0f} ms after the stop"
    final = lab.output_text(1)
    kept = shown_count(final, "c")
    assert 5 <= kept < total, f"partial answer should stay: {kept} of {total} words shown"
    assert "Traceback" not in final, f"a stop must end with one line, not a traceback:\n{final}"
    # The metrics footer counts what was received, which is what stays on screen.
    counted = re.search(r"total [\d.]+ s · ≈?(\d+) tokens", final)
    assert counted is not None and int(counted.group(1)) == kept, (
        f"{kept} words on screen but the footer says: {counted and counted.group(0)}")
    return kept


def _assert_disconnect_and_next_cell(lab: NotebookPage, lab_server: LabServer) -> None:
    sim = lab_server.sim
    wait_for(lambda: sim.stats.disconnects, 60, "the simulator to see the connection close")
    assert sim.stats.disconnects[0].endpoint == LLAMA
    lab.run_cell(2)
    assert lab.output_text(2).strip() == "the next cell ran"


def test_stop_button_click_mid_stream(lab: NotebookPage, lab_server: LabServer):
    total = 400
    _start_long_answer(lab, lab_server, "e2e-stop-click", total)
    stop = lab.cell(1).locator(STOP_BUTTON)
    assert stop.count() == 1 and stop.is_visible(), (
        "no clickable Stop button while the blocking %%dbchat cell streams on ipykernel 7.4 "
        f"(the view shows: {lab.output_text(1)[:200]!r})")
    clicked = lab.now_ms()
    stop.click()
    kept = _assert_stopped_in_time(lab, clicked, total, "stop_click",
                                   "02-stopped-by-button")
    _assert_disconnect_and_next_cell(lab, lab_server)
    assert lab_server.sim.stats.disconnects[0].tokens_sent >= kept


def test_kernel_interrupt_mid_stream(lab: NotebookPage, lab_server: LabServer):
    total = 400
    _start_long_answer(lab, lab_server, "e2e-stop-interrupt", total)
    clicked = lab.now_ms()
    lab.interrupt()
    kept = _assert_stopped_in_time(lab, clicked, total, "interrupt",
                                   "03-stopped-by-interrupt")
    assert "KeyboardInterrupt" not in lab.output_text(1)
    _assert_disconnect_and_next_cell(lab, lab_server)
    assert lab_server.sim.stats.disconnects[0].tokens_sent >= kept


def test_kernel_interrupt_on_databricks_stack(lab: NotebookPage, lab_server: LabServer,
                                              dbr_kernel: str):
    """■ on Databricks' kernel stack (IPython 8.30, ipykernel 6.29) stops the answer the same way.

    JupyterLab 4 has no widget manager for ipywidgets 7, so this kernel streams plain outputs
    updated by display id (no Stop button); the words on screen are what the kernel received.
    """
    sim, total = lab_server.sim, 400
    _start_long_answer(lab, lab_server, "e2e-stop-dbr", total, kernel=dbr_kernel,
                       next_cell="import ipykernel\n"
                                 "print('the next cell ran on ipykernel', ipykernel.__version__)")
    clicked = lab.now_ms()
    lab.interrupt()
    kept = _assert_stopped_in_time(lab, clicked, total, "interrupt_databricks_stack",
                                   "03b-stopped-by-interrupt-databricks-stack")
    assert "KeyboardInterrupt" not in lab.output_text(1)
    wait_for(lambda: sim.stats.disconnects, 10, "the simulator to see the connection close")
    assert sim.stats.disconnects[0].tokens_sent >= kept
    lab.run_cell(2)
    assert lab.output_text(2).strip() == "the next cell ran on ipykernel 6.29.5"
