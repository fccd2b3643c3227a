"""ChatPanel in JupyterLab: type, Send, see the answer; switch endpoint; answers survive reload."""

from __future__ import annotations

import pytest
from dbchat_page import (
    ENDPOINT_SELECT,
    FAILED_MARK,
    QUESTION_BOX,
    SEND_BUTTON,
    SETTINGS_TOGGLE,
    numbered_reply,
    shown_count,
)
from labdriver import LabServer, NotebookPage, wait_for

from dbchat_magic.simulator import CLAUDE, LLAMA

pytestmark = pytest.mark.e2e

QUICKSTART = [
    "%load_ext dbchat_magic",
    f"%%dbchat -e {LLAMA}\nSummarise what a p-value is (e2e-quickstart-answer).",
    "from dbchat_magic import ChatPanel\n\npanel = ChatPanel()\npanel",
]
PANEL_CELL = 2


def _ask_in_panel(lab: NotebookPage, question: str, prefix: str, total: int) -> None:
    """Type ``question`` into the panel, press Send, wait until the whole answer is on screen."""
    panel = lab.cell(PANEL_CELL)
    panel.locator(QUESTION_BOX).first.fill(question)
    panel.locator(SEND_BUTTON).first.click()

    def answered() -> bool:
        shown = lab.output_text(PANEL_CELL)
        assert FAILED_MARK not in shown, f"the panel's answer failed:\n{shown}"
        return shown_count(shown, prefix) == total

    wait_for(answered, 60, f"the panel to show the whole answer {prefix}001..{prefix}{total:03d}")


def _last_endpoint(lab_server: LabServer) -> str | None:
    chats = [e for e in lab_server.sim.stats.log if e.endpoint is not None]
    return chats[-1].endpoint if chats else None


def test_chat_panel_send_switch_endpoint_and_reload(lab: NotebookPage, lab_server: LabServer):
    sim = lab_server.sim
    sim.script("e2e-quickstart-answer", numbered_reply("q", 20))
    sim.script("e2e-panel-first", numbered_reply("p", 15))
    sim.script("e2e-panel-second", numbered_reply("r", 12))
    sim.set_pacing(tokens_per_second=40)
    name = lab_server.write_notebook("quickstart", QUICKSTART)
    lab.open(name)
    for index in range(len(QUICKSTART)):
        lab.run_cell(index, timeout=90)
    assert shown_count(lab.output_text(1), "q") == 20

    _ask_in_panel(lab, "Which endpoint answers? e2e-panel-first", "p", 15)
    assert _last_endpoint(lab_server) == LLAMA
    lab.screenshot("05a-panel-first-answer")

    lab.cell(PANEL_CELL).locator(SETTINGS_TOGGLE).first.click()  # the settings sit behind ⚙
    endpoint = lab.cell(PANEL_CELL).locator(ENDPOINT_SELECT).first
    wait_for(lambda: CLAUDE in endpoint.locator("option").all_inner_texts(), 30,
             f"{CLAUDE} to be offered in the endpoint dropdown (the workspace list)")
    endpoint.select_option(label=CLAUDE)
    _ask_in_panel(lab, "And now? e2e-panel-second", "r", 12)
    assert _last_endpoint(lab_server) == CLAUDE
    assert sim.stats.requests_by_endpoint[CLAUDE] == 1
    assert sim.stats.requests_by_endpoint[LLAMA] == 2  # the quickstart cell + first panel question
    lab.screenshot("05b-panel-other-endpoint")

    saved = lab.save(name)
    outputs = saved["cells"][1]["outputs"]
    markdown = ["".join(o["data"]["text/html"]) for o in outputs
                if o.get("data", {}).get("text/html")]
    assert any("q020" in text for text in markdown), (
        f"the saved quickstart cell holds no answer: {outputs}")

    # The kernel goes away: what shows after the reload comes from the saved file alone.
    lab_server.shutdown_kernels()
    lab.reload()
    wait_for(lambda: shown_count(lab.output_text(1), "q") == 20, 30,
             "the quickstart's answer to show again after reload")
    lab.screenshot("05c-after-reload")
