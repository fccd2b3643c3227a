"""No painted frame shows the live answer shrinking while it streams (cell and ChatPanel).

Each live render replaces the answer Output's ``outputs`` with one Markdown entry, and a
MutationObserver sees the area empty for a moment before the refill; what counts is what gets
painted. A ``requestAnimationFrame`` loop (it runs right before each paint) samples the live
answer's text length, and no frame between the first word and the whole answer may show it
empty or shorter than before.
"""

from __future__ import annotations

import pytest
from dbchat_page import (
    FAILED_MARK,
    QUESTION_BOX,
    SEND_BUTTON,
    FrameStats,
    frame_stats,
    numbered_reply,
    shown_count,
    start_frame_sampler,
    stop_frame_sampler,
)
from labdriver import LabServer, NotebookPage, record_measurement, wait_for

from dbchat_magic.simulator import LLAMA
from waiting import Steps

pytestmark = pytest.mark.e2e

WORDS = 400
TOKENS_PER_SECOND = 40  # ~10 s of streaming: ~60 live renders, ~600 frames sampled


HOLDS = (100, 200, 300)  # the stream waits at each until the page shows it: >= 3 painted steps


def _hold_until_painted(lab: NotebookPage, index: int, prefix: str, steps: Steps) -> None:
    """Release each hold of ``steps`` once cell ``index`` shows that many words."""
    for i, words in enumerate(HOLDS):
        wait_for(lambda n=words: shown_count(lab.output_text(index), prefix) >= n, 120,
                 f"{words} words on the page while the answer is held")
        steps.release(i)


def _record(name: str, stats: FrameStats) -> None:
    for field in ("frames", "steps", "shrinking", "below", "longest_ms"):
        record_measurement(f"flicker_{name}_{field}", getattr(stats, field))


def _assert_no_shrinking(name: str, stats: FrameStats) -> None:
    _record(name, stats)
    assert stats.steps >= 3, f"the frames did not see the answer grow: {stats}"
    assert stats.shrinking == 0 and stats.below == 0, (
        f"painted frames showed the {name} answer shrinking while it streamed: {stats}")


def test_cell_answer_never_shrinks_on_screen(lab: NotebookPage, lab_server: LabServer):
    reply = numbered_reply("f", WORDS)
    lab_server.sim.script("e2e-no-flicker-cell", reply)
    steps = Steps(*HOLDS)
    lab_server.sim.set_pacing(tokens_per_second=TOKENS_PER_SECOND, gate=steps)
    name = lab_server.write_notebook("no_flicker_cell", [
        "%load_ext dbchat_magic", f"%%dbchat -e {LLAMA}\nA long answer, e2e-no-flicker-cell"])
    lab.open(name)
    lab.run_cell(0)
    start_frame_sampler(lab.page, lab.cell(1))
    try:
        lab.run_cell(1, wait=False)
        _hold_until_painted(lab, 1, "f", steps)
    finally:
        steps.open()
        lab_server.sim.set_pacing(gate=None)
    lab.wait_cell_done(1, "[*]:", timeout=120)
    samples = stop_frame_sampler(lab.page)
    final = lab.output_text(1)
    assert FAILED_MARK not in final, f"the answer failed:\n{final}"
    assert shown_count(final, "f") == WORDS
    _assert_no_shrinking("cell", frame_stats(samples, len(reply)))


def test_panel_answer_never_shrinks_on_screen(lab: NotebookPage, lab_server: LabServer):
    reply = numbered_reply("g", WORDS)
    lab_server.sim.script("e2e-no-flicker-panel", reply)
    steps = Steps(*HOLDS)
    lab_server.sim.set_pacing(tokens_per_second=TOKENS_PER_SECOND, gate=steps)
    name = lab_server.write_notebook("no_flicker_panel", [
        "from dbchat_magic import ChatPanel\n\npanel = ChatPanel(list_endpoints=False)\npanel"])
    lab.open(name)
    lab.run_cell(0)
    panel = lab.cell(0)
    panel.locator(QUESTION_BOX).first.fill("A long answer, e2e-no-flicker-panel")
    start_frame_sampler(lab.page, panel)
    try:
        panel.locator(SEND_BUTTON).first.click()
        _hold_until_painted(lab, 0, "g", steps)
    finally:
        steps.open()
        lab_server.sim.set_pacing(gate=None)

    def answered() -> bool:
        shown = lab.output_text(0)
        assert FAILED_MARK not in shown, f"the panel's answer failed:\n{shown}"
        return shown_count(shown, "g") == WORDS

    wait_for(answered, 120, "the panel to show the whole answer")
    samples = stop_frame_sampler(lab.page)
    _assert_no_shrinking("panel", frame_stats(samples, len(reply)))
