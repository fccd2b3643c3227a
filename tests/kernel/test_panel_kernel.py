"""The ChatPanel in a real kernel: its Stop button works while the kernel is idle (any ipykernel).

The click is sent the way a frontend sends it: a ``comm_msg`` to the button's comm with
``{"method": "custom", "content": {"event": "click"}}`` (the same shape on ipywidgets 7.8 and 8).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dbchat_magic.simulator import Gate, Simulator
from waiting import WAIT, wait_until

CLICK = {"method": "custom", "content": {"event": "click"}}


def _states(messages: list[Any]) -> list[tuple[float, str, dict[str, Any]]]:
    """(received, comm_id, state) of every widget state update seen."""
    found = []
    for m in messages:
        if m.msg_type == "comm_msg" and m.content["data"].get("method") == "update":
            found.append((m.received, m.content["comm_id"], m.content["data"].get("state", {})))
    return found


def _collect(kernel: Any, execution: Any, until: Any, timeout: float = WAIT) -> None:
    """Keep reading iopub into ``execution`` (the kernel is idle) until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernel.poll(execution, 0.05)
        if until():
            return
    raise TimeoutError("the expected widget updates never arrived")


def _value(kernel: Any, expression: str, setup: str = "") -> Any:
    """Run ``setup`` in the kernel, then return ``expression`` (JSON round trip via stdout)."""
    run = kernel.execute(f"{setup}\nimport json as _j\nprint(_j.dumps({expression}))")
    assert run.status == "ok", run.outputs
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(240)
def test_panel_stop_works_while_the_kernel_is_idle(kernel: Any, kernel_sim: Simulator) -> None:
    gate = Gate(after_tokens=10)  # held mid-way: only the Stop can end the answer
    kernel_sim.set_pacing(gate=gate)
    kernel_sim.reset_stats()
    try:
        asked = _ask_and_stop(kernel, kernel_sim)
    finally:
        gate.open()
        kernel_sim.set_pacing(gate=None)
    result = _value(kernel, "{'status': r.status, 'text': r.text}", f"r = panel.wait({WAIT})")
    assert result["status"] == "stopped"
    assert result["text"], "the partial answer is kept"
    [gone] = kernel_sim.stats.disconnects
    assert gone.tokens_sent == gate.after_tokens  # closed while held: the click's doing
    # the kernel is healthy and the panel can ask again
    again = _value(kernel, f"panel.wait({WAIT}).status", "panel.ask('and now briefly')")
    assert again == "completed"
    token = kernel_sim.token
    assert token and all(token not in json.dumps(m.msg, default=str) for m in asked.messages)


def _ask_and_stop(kernel: Any, sim: Simulator) -> Any:
    """Make a panel, ask, and click its Stop once words show; 'stopped' must show and the
    connection close while the answer is still held (so the click did it, not the answer's end).
    """
    made = kernel.execute("from dbchat_magic import ChatPanel\n"
                          "panel = ChatPanel(list_endpoints=False)\npanel")
    assert made.status == "ok", made.outputs
    view_mime = "application/vnd.jupyter.widget-view+json"
    shown = [o for o in made.outputs if view_mime in o.get("data", {})]
    assert shown and shown[0]["data"]["text/plain"] == "<dbchat panel>"
    # the cell returns while its answer is held: the kernel is idle while the answer streams
    asked = kernel.execute(
        "import json\nhandle = panel.ask('Tell me a long story about revenue')\n"
        "view = panel.turns[-1].view\n"
        "print(json.dumps({'stop': panel.stop_button.model_id, 'status': view.status.model_id, "
        "'answer': view.answer.model_id}))")
    assert asked.status == "ok", asked.outputs
    ids = json.loads(asked.stdout.strip().splitlines()[-1])

    def streamed_text() -> bool:
        return any(cid == ids["answer"] and s.get("outputs")
                   for _, cid, s in _states(asked.messages))

    _collect(kernel, asked, streamed_text)
    clicked = time.monotonic()
    kernel.send_comm(ids["stop"], CLICK)

    def shows_stopped() -> bool:
        return any(cid == ids["status"] and "stopped" in str(s.get("value", ""))
                   for _, cid, s in _states(asked.messages))

    _collect(kernel, asked, shows_stopped)
    shown_after = next(t for t, cid, s in _states(asked.messages)
                       if cid == ids["status"] and "stopped" in str(s.get("value", ""))) - clicked
    print(f"Stop click -> 'stopped' shown after {shown_after * 1000:.0f} ms")  # bench/ times it
    wait_until(lambda: sim.stats.disconnects, "the simulator to see the connection close")
    return asked


@pytest.mark.timeout(240)
def test_panel_keeps_streaming_while_other_cells_run(kernel: Any, kernel_sim: Simulator) -> None:
    """The rest of the answer streams while another cell runs: the answer is held until that
    cell has started, and that cell runs until the view shows the whole answer."""
    gate = Gate(after_tokens=10)
    kernel_sim.set_pacing(tokens_per_second=40, gate=gate)
    try:
        asked = kernel.execute(
            "import json\nfrom dbchat_magic import ChatPanel\n"
            "p2 = ChatPanel(list_endpoints=False)\n"
            "h2 = p2.ask('Summarise the quarter in detail')\n"
            "print(json.dumps({'answer': p2.turns[-1].view.answer.model_id}))")
        assert asked.status == "ok", asked.outputs
        answer_id = json.loads(asked.stdout.strip().splitlines()[-1])["answer"]
        other = kernel.start(OTHER_CELL)
        kernel.wait(other, WAIT, until=lambda e: bool(e.of_type("execute_input")))
        gate.open()
        kernel.wait(other, WAIT)
    finally:
        gate.open()
        kernel_sim.set_pacing(tokens_per_second=None, gate=None)
    assert other.status == "ok" and other.stdout == "other cell 499500\n"
    # the other cell got only its own output: nothing of the answer leaked into it
    assert [o.get("text") for o in other.outputs] == ["other cell 499500\n"]
    during = [m for m in other.messages if m.msg_type == "comm_msg"
              and m.content["comm_id"] == answer_id]
    final = _value(kernel, "{'status': r.status, 'text': r.text}", f"r = p2.wait({WAIT})")
    assert final["status"] == "completed"
    assert during, "the answer kept streaming while the other cell ran"


OTHER_CELL = """import time  # the user's own slow cell: busy until the panel shows the whole answer
_v2 = p2.turns[-1].view
while not (h2.done and _v2.answer.outputs
           and _v2.answer.outputs[0]['data']['text/plain'] == h2.result.text):
    time.sleep(0.02)
total = sum(range(1000))
print('other cell', total)"""
