"""The ChatPanel as a chat in JupyterLab 4 + Chromium, light and dark, 1,400 and 800 px wide.

Enter sends (no click); the history is a fixed-height box that keeps the newest message in view;
both roles are labelled; settings sit behind ⚙; at 800 px every control is still on screen and
usable; after save + kernel shutdown + reopen the conversation is there as plain outputs (no
"model not found"). Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from dbchat_page import FAILED_MARK, numbered_reply, shown_count
from labdriver import LabServer, NotebookPage, wait_for

from dbchat_magic.simulator import LLAMA

pytestmark = pytest.mark.e2e

CELLS = ["from dbchat_magic import ChatPanel\n\npanel = ChatPanel(conversation='e2e-chat')\npanel"]
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
LINE_BOX = ".dbchat-question-line input"
CONTROLS = [".dbchat-question-line input", "button.dbchat-send", "button.dbchat-stop",
            ".dbchat-several-lines", ".dbchat-settings-toggle"]
QUESTIONS = [("e2e-chat-first", "f", 70), ("e2e-chat-second", "s", 70), ("e2e-chat-third", "t", 70)]

# Where the newest answer's last word is, relative to the scrolling history box.
_NEWEST_JS = """(cell) => {
  const frame = cell.querySelector('.dbchat-history-frame');
  const answers = cell.querySelectorAll('.dbchat-answer');
  const last = answers[answers.length - 1];
  const f = frame.getBoundingClientRect(), a = last.getBoundingClientRect();
  return {scrollHeight: frame.scrollHeight, clientHeight: frame.clientHeight,
          frameTop: f.top, frameBottom: f.bottom, answerBottom: a.bottom, answerTop: a.top,
          resize: getComputedStyle(frame).resize};
}"""

# Each selector's first visible element: its box and whether it lies inside the panel.
_BOXES_JS = """([cell, selectors]) => {
  const panel = cell.querySelector('.dbchat-panel').getBoundingClientRect();
  return selectors.map(sel => {
    const el = cell.querySelector(sel);
    if (!el) return {sel, found: false};
    const r = el.getBoundingClientRect();
    return {sel, found: true, visible: el.checkVisibility(), width: r.width, height: r.height,
            inside: r.left >= panel.left - 1 && r.right <= panel.right + 1};
  });
}"""


def _set_theme(server: LabServer, theme: str) -> None:
    """Save JupyterLab's theme setting through its REST API (read at the next page load)."""
    body = json.dumps({"raw": json.dumps({"theme": THEMES[theme]})}).encode()
    req = urllib.request.Request(
        f"{server.url}/lab/api/settings/@jupyterlab/apputils-extension:themes", data=body,
        method="PUT", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10):
        pass


def _ask_with_enter(lab: NotebookPage, question: str, prefix: str, total: int) -> None:
    """Type ``question`` into the one-line box and press Enter (no click); wait for the answer."""
    box = lab.cell(0).locator(LINE_BOX).first
    box.click()
    box.fill(question)
    box.press("Enter")

    def answered() -> bool:
        shown = lab.output_text(0)
        assert FAILED_MARK not in shown, f"the panel's answer failed:\n{shown}"
        return shown_count(shown, prefix) == total

    wait_for(answered, 90, f"the panel to show the whole answer {prefix}001..{prefix}{total:03d}")
    wait_for(lambda: box.input_value() == "", 30, "the question box to be emptied after sending")
    _wait_until_idle(lab)


def _wait_until_idle(lab: NotebookPage) -> None:
    """Send is enabled again: the answer has finished (its last words show a little earlier, and
    a click on the disabled Send in between is lost; a loaded machine widens that gap)."""
    send = lab.cell(0).locator("button.dbchat-send").first
    wait_for(send.is_enabled, 90, "Send to be enabled again (the answer to finish)")


def _ask_several_lines(lab: NotebookPage) -> None:
    """¶: Enter and Shift+Enter make new lines (the cell does not run), Send sends both lines."""
    cell = lab.cell(0)
    before = lab.prompt(0)
    cell.locator(".dbchat-several-lines").first.click()
    box = cell.locator(".dbchat-question-lines textarea").first
    box.click()
    box.type("first line")
    box.press("Shift+Enter")
    box.type("second line")
    box.press("Enter")
    box.type("third line")
    assert box.input_value() == "first line\nsecond line\nthird line"
    assert lab.prompt(0) == before, "Shift+Enter in the question box ran the cell"
    turns = cell.locator(".dbchat-turn")
    count = turns.count()
    _wait_until_idle(lab)
    cell.locator("button.dbchat-send").first.click()
    wait_for(lambda: turns.count() == count + 1, 60, "Send to start a new turn")
    newest = turns.nth(count)
    wait_for(lambda: "tokens" in newest.locator(".dbchat-metrics").inner_text(), 90,
             "the several-lines question to be answered")
    asked = newest.locator(".dbchat-user").inner_text()
    assert "first line\nsecond line\nthird line" in asked, asked
    assert box.input_value() == ""
    cell.locator(".dbchat-several-lines").first.click()  # back to one line: Enter sends
    cell.locator(LINE_BOX).first.wait_for(timeout=30_000)


def _assert_nothing_lost(lab: NotebookPage, where: str) -> None:
    """Every control (and, behind ⚙, every setting) is visible, usable-sized and in the panel."""
    cell = lab.cell(0).element_handle()
    toggle = lab.cell(0).locator(".dbchat-settings-toggle").first
    toggle.click()
    wait_for(lambda: lab.cell(0).locator(".dbchat-endpoint select").first.is_visible(), 30,
             "the settings to unfold behind ⚙")
    boxes = lab.page.evaluate(_BOXES_JS, [cell, [*CONTROLS, *_settings_selectors()]])
    for box in boxes:
        assert box["found"] and box["visible"], f"{where}: {box['sel']} is not shown: {box}"
        assert box["inside"], f"{where}: {box['sel']} sticks out of the panel: {box}"
        assert box["width"] >= 24 and box["height"] >= 10, f"{where}: {box['sel']} shrank: {box}"
    slider = next(b for b in boxes if "hslider" in b["sel"])
    assert slider["width"] >= 120, f"{where}: the temperature slider shrank to {slider}"
    lab.screenshot(f"13-panel-{where}-settings-open")
    toggle.click()
    wait_for(lambda: not lab.cell(0).locator(".dbchat-endpoint select").first.is_visible(), 30,
             "the settings to fold again")


def _settings_selectors() -> list[str]:
    return [".dbchat-endpoint select", ".dbchat-settings .widget-dropdown:not(.dbchat-endpoint)",
            ".dbchat-settings .widget-hslider", ".dbchat-settings .widget-text input"]


def _assert_newest_in_view(lab: NotebookPage, where: str) -> dict[str, Any]:
    pos = lab.page.evaluate(_NEWEST_JS, lab.cell(0).element_handle())
    assert pos["scrollHeight"] > pos["clientHeight"], f"{where}: the history did not scroll: {pos}"
    assert pos["frameTop"] - 1 <= pos["answerBottom"] <= pos["frameBottom"] + 1, (
        f"{where}: the newest answer's end is out of view: {pos}")
    assert pos["resize"] == "vertical", f"{where}: the history cannot be resized: {pos}"
    return dict(pos)


@pytest.mark.parametrize(("theme", "first", "second"), [("light", 1400, 800), ("dark", 800, 1400)])
def test_panel_is_a_chat_that_survives_a_reload(lab: NotebookPage, lab_server: LabServer,
                                                theme: str, first: int, second: int) -> None:
    sim = lab_server.sim
    for tag, prefix, count in QUESTIONS:
        sim.script(tag, numbered_reply(prefix, count))
    _set_theme(lab_server, theme)
    try:
        lab.page.set_viewport_size({"width": first, "height": 1000})
        name = lab_server.write_notebook(f"chat-panel-{theme}", CELLS)
        lab.open(name)
        lab.run_cell(0, timeout=90)
        panel = lab.cell(0).locator(".dbchat-panel").first
        panel.wait_for(timeout=60_000)
        transcript = lab.cell(0).locator(".dbchat-transcript").first
        assert not transcript.is_visible(), "the plain transcript shows beside the live panel"
        assert not lab.cell(0).locator(".dbchat-endpoint select").first.is_visible(), (
            "the settings are not folded behind ⚙")

        for index, (tag, prefix, count) in enumerate(QUESTIONS):
            _ask_with_enter(lab, f"Question {index + 1}? {tag}", prefix, count)
        assert sim.stats.requests_by_endpoint.get(LLAMA) == len(QUESTIONS)
        if theme == "light":
            _ask_several_lines(lab)
            sim.script("e2e-chat-fourth", numbered_reply("u", 40))
            _ask_with_enter(lab, "And one more? e2e-chat-fourth", "u", 40)  # Enter sends again
        shown = lab.output_text(0)
        assert shown.count("You") >= len(QUESTIONS) and shown.count(LLAMA) >= len(QUESTIONS)
        assert "✓ done" not in shown, "every turn repeats a done status"
        _assert_newest_in_view(lab, f"{theme}-{first}")
        lab.screenshot(f"13-panel-{theme}-{first}")
        _assert_nothing_lost(lab, f"{theme}-{first}")

        lab.page.set_viewport_size({"width": second, "height": 1000})
        _assert_newest_in_view(lab, f"{theme}-{second}")
        _assert_nothing_lost(lab, f"{theme}-{second}")
        lab.screenshot(f"13-panel-{theme}-{second}")

        saved = lab.save(name)
        plain = [o for o in saved["cells"][0]["outputs"]
                 if "dbchat-transcript" in "".join(o.get("data", {}).get("text/html", ""))]
        assert len(plain) == 1, f"no transcript output was saved: {saved['cells'][0]['outputs']}"
        text = "".join(plain[0]["data"]["text/plain"])
        assert all(f"{prefix}{count:03d}" in text for _, prefix, count in QUESTIONS), text

        lab_server.shutdown_kernels()
        lab.reload()
        wait_for(lambda: transcript.is_visible(), 60, "the transcript to show after the reopen")
        missing = lab.cell(0).locator(".jp-OutputArea-output.jupyter-widgets",
                                      has_text="model not found").first
        missing.wait_for(state="attached", timeout=60_000)  # the widget manager has given up
        assert not missing.is_visible(), "the dead widget's placeholder shows beside the transcript"
        reopened = lab.output_text(0)
        for _, prefix, count in QUESTIONS:
            assert shown_count(reopened, prefix) == count, reopened
        assert "model not found" not in reopened and "Error displaying widget" not in reopened
        assert reopened.count("You") >= len(QUESTIONS) and LLAMA in reopened
        lab.screenshot(f"13-panel-{theme}-{second}-reopened")
    finally:
        _set_theme(lab_server, "light")


def test_the_stored_chat_panel_notebook_opens_showing_its_conversation(
        lab: NotebookPage, lab_server: LabServer) -> None:
    """notebooks/03 as stored (untrusted, no widget state) shows the transcript, not a stub."""
    source = Path(__file__).resolve().parents[2] / "notebooks" / "03_chat_panel.ipynb"
    shutil.copy(source, lab_server.root / "stored-03.ipynb")
    stored = json.loads(source.read_text())
    panel_cell = next(i for i, c in enumerate(stored["cells"])
                      if "ChatPanel(" in "".join(c["source"]) and c["cell_type"] == "code")
    for width in (1400, 800):
        lab.page.set_viewport_size({"width": width, "height": 1000})
        lab.open("stored-03.ipynb")
        wait_for(lambda: "What drove revenue growth" in lab.output_text(panel_cell), 60,
                 "the stored transcript to show")
        shown = lab.output_text(panel_cell)
        assert shown.count("You") >= 3 and LLAMA in shown and "tokens" in shown, shown
        assert "<dbchat panel>" not in shown and "model not found" not in shown, shown
        lab.cell(panel_cell).scroll_into_view_if_needed()
        lab.screenshot(f"13-stored-03-{width}")
        lab_server.shutdown_kernels()
