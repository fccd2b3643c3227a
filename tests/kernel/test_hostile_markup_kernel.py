"""A hostile answer in a real kernel leaves no raw HTML from the model in any output or widget.

Every output (display_data, update_display_data, execute_result) and every widget state the
kernel sends (the Output widgets' entries, HTML widgets' values) of a blocking cell, a
--background cell, a ChatPanel, ``%dbchat last`` and ``%dbchat history`` is parsed: only the
allow-listed elements and attributes may appear, and no output carries ``text/markdown``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from hostile.html_check import package_violations
from hostile.markup_payloads import combined, hostile_field_spec

BEACON = "http://127.0.0.1:9/beacon"
TAIL = "end-of-payloads"


def _markup_of(message: Any) -> list[str]:
    """Every HTML/Markdown string an iopub message carries (outputs and widget states)."""
    content = message.content
    found: list[str] = []
    data = content.get("data") or {}
    if message.msg_type in ("display_data", "update_display_data", "execute_result"):
        found += [str(data.get(k)) for k in ("text/html", "text/markdown") if k in data]
        assert "text/markdown" not in data, f"a Markdown output: {str(data)[:200]}"
    if message.msg_type in ("comm_open", "comm_msg"):
        state = data.get("state") or {}
        for entry in state.get("outputs") or ():
            entry_data = entry.get("data") or {}
            assert "text/markdown" not in entry_data, f"a Markdown entry: {str(entry)[:200]}"
            found += [str(entry_data.get("text/html", ""))]
        if isinstance(state.get("value"), str):
            found.append(state["value"])
    return found


def _check(messages: list[Any]) -> int:
    """Assert every markup string is allowed; how many carried the payloads' tail."""
    seen = 0
    for message in messages:
        for markup in _markup_of(message):
            bad = package_violations(markup)
            assert not bad, f"{message.msg_type}: {bad}\n{markup[:3000]}"
            seen += TAIL in markup
    return seen


def _until_done(kernel: Any, var: str) -> list[Any]:
    seen: list[Any] = []
    deadline = time.monotonic() + 60  # returns as soon as it completed
    while time.monotonic() < deadline:
        check = kernel.execute(f"print(globals().get({var!r}) and {var}.status)")
        seen += check.messages
        if check.stdout.strip() == "completed":
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{var} never completed")


@pytest.mark.timeout(300)
def test_hostile_answers_leave_no_raw_html_anywhere(kernel: Any, kernel_sim: Any) -> None:
    text = combined(BEACON) + "\n\n" + hostile_field_spec(BEACON, "hsales")
    for where in ("blocking", "background", "panel"):
        kernel_sim.script(f"hostile-{where}", text)
    setup = kernel.execute("import pandas as pd\nhsales = pd.DataFrame({'region': ['EU'], "
                           "'revenue': [1.0]})")
    assert setup.status == "ok", setup.outputs
    blocking = kernel.execute("%%dbchat -o hb -d hsales\nhostile-blocking please", timeout=120)
    assert blocking.status == "ok", blocking.outputs
    assert _check(blocking.messages) >= 1  # the answer was shown (and checked)
    shown = " ".join(o.get("data", {}).get("text/plain", "") for o in blocking.outputs)
    assert "chart not drawn: x.field: no column \"<img src=x" in shown  # echoed as text only
    last = kernel.execute("%dbchat last")  # the ChatResult's own HTML repr
    assert _check(last.messages) == 1, last.outputs

    background = kernel.execute("%%dbchat --background -o hg -d hsales\nhostile-background",
                                timeout=60)
    seen = background.messages + _until_done(kernel, "hg")
    assert _check(seen) >= 1

    panel = kernel.execute("from dbchat_magic import ChatPanel\n"
                           "hp = ChatPanel(list_endpoints=False)\ndisplay(hp)\n"
                           "hp.ask('hostile-panel please')\nprint(hp.wait(90).status)",
                           timeout=120)
    assert panel.stdout.strip().endswith("completed"), panel.outputs
    assert _check(panel.messages) >= 1

    kernel_sim.inject("400", message='<img src=x onerror="alert(1)"> bad request')
    failed = kernel.execute("%%dbchat -o hf --no-raise\nplain question", timeout=60)
    assert "bad request" in failed.text_outputs()
    _check(failed.messages)

    history = kernel.execute("%dbchat history")
    assert history.status == "ok" and "\x1b" not in history.stdout
    _check(history.messages)
