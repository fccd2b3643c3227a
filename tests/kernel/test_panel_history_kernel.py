"""The ChatPanel across a real kernel restart (issue 13 item 2) and its compare mode (issue 14
item 2) in a real kernel of this venv (ipywidgets 8 in .venv, 7.8 in .venv-dbr), against the
simulator over loopback. Clicks reach the widgets as a browser sends them (comm messages)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dbchat_magic.simulator import CLAUDE, LLAMA, Gate, Simulator
from waiting import WAIT

CLICK = {"method": "custom", "content": {"event": "click"}}


def _value(kernel: Any, expression: str, setup: str = "", timeout: float = 120) -> Any:
    run = kernel.execute(f"{setup}\nimport json as _j\nprint(_j.dumps({expression}))",
                         timeout=timeout)
    assert run.status == "ok", run.outputs
    return json.loads(run.stdout.strip().splitlines()[-1])


def _restart(kernel: Any) -> None:
    """A real kernel restart (a new process; same config dir, so the same history log)."""
    kernel.km.restart_kernel(now=True)
    kernel.kc.wait_for_ready(timeout=120)
    assert _value(kernel, "'panel' in globals()") is False


def _by_endpoint(request: Any) -> str:
    return f"{request.endpoint} answers: {request.last_user_message[-30:]}"


WALK = ("def _walk(w):\n"
        "    yield w\n"
        "    for c in getattr(w, 'children', ()) or ():\n"
        "        yield from _walk(c)\n")


@pytest.mark.timeout(600)
def test_a_panel_shows_its_conversation_after_a_kernel_restart(kernel: Any,
                                                               kernel_sim: Simulator) -> None:
    kernel_sim.set_pacing(tokens_per_second=None)
    asked = kernel.execute(
        "from dbchat_magic import ChatPanel\n"
        "panel = ChatPanel(list_endpoints=False, conversation='x')\n"
        "for q in ('Which region sold most?', 'And the least?'):\n"
        "    panel.ask(q)\n"
        "    assert panel.wait(60).ok\n"
        "print(len(panel.turns))", timeout=180)
    assert asked.stdout.strip() == "2", asked.outputs
    answers = [e.text for e in kernel_sim.stats.log[-2:]]
    _restart(kernel)
    opened = _value(kernel, "{'questions': [t.question for t in panel.turns], "
                            "'bubbles': [w.value for w in _walk(panel.history) "
                            "if 'dbchat-user' in getattr(w, '_dom_classes', ())], "
                            "'footers': [t.view.footer.value for t in panel.turns], "
                            "'note': panel.note.value}",
                    WALK + "from dbchat_magic import ChatPanel\n"
                    "panel = ChatPanel(list_endpoints=False, conversation='x')")
    assert opened["questions"] == ["Which region sold most?", "And the least?"]
    assert "Which region sold most?" in opened["bubbles"][0]
    assert "And the least?" in opened["bubbles"][1]
    assert all("tokens" in footer for footer in opened["footers"])
    assert "2 earlier turns of &#x27;x&#x27; restored from the history log" in opened["note"]
    third = _value(kernel, "panel.wait(60).status", "panel.ask('And in between?')")
    assert third == "completed"
    sent = [m["content"] for m in kernel_sim.stats.last_body["messages"]]
    assert sent[1:5] == ["Which region sold most?", answers[0], "And the least?", answers[1]]
    assert sent[-1].endswith("And in between?")


@pytest.mark.timeout(600)
def test_compare_mode_answers_in_columns_and_one_stop_stops_all(kernel: Any,
                                                                kernel_sim: Simulator) -> None:
    kernel_sim.set_pacing(tokens_per_second=None)
    kernel_sim.responder = _by_endpoint
    kernel_sim.reset_stats()
    try:
        done = _value(
            kernel, "{'texts': [r.text for r in got], 'status': [r.status for r in got], "
                    "'columns': len(cpanel.turns[-1].columns.views), "
                    "'table': cpanel.turns[-1].table.value, "
                    "'send': cpanel.send_button.description}",
            "from dbchat_magic import ChatPanel\n"
            "cpanel = ChatPanel()\n"
            "assert cpanel.settings.endpoints_settled.wait(60)\n"
            f"cpanel.settings.compare.value = ({CLAUDE!r},)\n"
            "cpanel.ask('Who is faster?')\n"
            "got = cpanel.wait(60)", timeout=180)
    finally:
        kernel_sim.responder = None
    assert done["texts"] == [f"{e} answers: Who is faster?" for e in (LLAMA, CLAUDE)]
    assert done["status"] == ["completed", "completed"] and done["columns"] == 2
    assert done["table"].count("<tr>") == 3 and "tok/s" in done["table"]
    assert done["send"] == "Send to 2"
    assert kernel_sim.stats.requests_by_endpoint[LLAMA] == 1
    assert kernel_sim.stats.requests_by_endpoint[CLAUDE] == 1

    gate = Gate(after_tokens=10)  # both answers held mid-way: only the Stop can end them
    kernel_sim.set_pacing(gate=gate)
    try:
        stop_id = _value(kernel, "cpanel.stop_button.model_id",
                         "run = cpanel.ask('A long story from both')")
        deadline = time.monotonic() + WAIT
        while not _value(kernel, "all(h.result.text for h in run.handles)"):
            assert time.monotonic() < deadline, "both columns did not start streaming"
            time.sleep(0.2)
        kernel.send_comm(stop_id, CLICK)  # the panel's one Stop, clicked as a browser does
        stopped = _value(kernel, f"[r.status for r in cpanel.wait({WAIT})]")
    finally:
        gate.open()
        kernel_sim.set_pacing(gate=None)
    assert stopped == ["stopped", "stopped"]
