"""The ChatPanel in a real kernel: its Stop button works while the kernel is idle (any ipykernel).

The click is sent the way a frontend sends it: a ``comm_msg`` to the button's comm with
``{"method": "custom", "content": {"event": "click"}}`` (the same shape on ipywidgets 7.8 and 8).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dbchat_magic.simulator import Simulator

CLICK = {"method": "custom", "content": {"event": "click"}}


def _states(messages: list[Any]) -> list[tuple[float, str, dict[str, Any]]]:
    """(received, comm_id, state) of every widget state update seen."""
    found = []
    for m in messages:
        if m.msg_type == "comm_msg" and m.content["data"].get("method") == "update":
            found.append((m.received, m.content["comm_id"], m.content["data"].get("state", {})))
    return found


def _collect(kernel: Any, execution: Any, until: Any, timeout: float = 30.0) -> None:
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
    kernel_sim.set_pacing(tokens_per_second=25)
    kernel_sim.reset_stats()
    made = kernel.execute("from dbchat_magic import ChatPanel\n"
                          "panel = ChatPanel(list_endpoints=False)\npanel")
    assert made.status == "ok", made.outputs
    view_mime = "application/vnd.jupyter.widget-view+json"
    shown = [o for o in made.outputs if view_mime in o.get("data", {})]
    assert shown and shown[0]["data"]["text/plain"] == "<dbchat panel>"
    asked = kernel.execute(
        "import json\nhandle = panel.ask('Tell me a long story about revenue')\n"
        "view = panel.turns[-1].view\n"
        "print(json.dumps({'stop': panel.stop_button.model_id, 'status': view.status.model_id, "
        "'answer': view.answer.model_id}))")
    assert asked.status == "ok", asked.outputs
    # the cell returned at once: the kernel is idle while the answer streams
    assert asked.finished is not None and asked.finished - asked.started < 10
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
    print(f"Stop click -> 'stopped' shown after {shown_after * 1000:.0f} ms")
    assert shown_after < 5.0, f"'stopped' shown {shown_after:.3f} s after the click"
    result = _value(kernel, "{'status': r.status, 'text': r.text}", "r = panel.wait(30)")
    assert result["status"] == "stopped"
    assert result["text"], "the partial answer is kept"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not kernel_sim.stats.disconnects:
        time.sleep(0.02)
    assert kernel_sim.stats.disconnects, "the simulator saw the connection close"
    # the kernel is healthy and the panel can ask again
    kernel_sim.set_pacing(tokens_per_second=None)
    again = _value(kernel, "panel.wait(30).status", "panel.ask('and now briefly')")
    assert again == "completed"
    token = kernel_sim.token
    assert token and all(token not in json.dumps(m.msg, default=str) for m in asked.messages)


@pytest.mark.timeout(240)
def test_panel_keeps_streaming_while_other_cells_run(kernel: Any, kernel_sim: Simulator) -> None:
    kernel_sim.set_pacing(tokens_per_second=40)
    asked = kernel.execute(
        "import json\nfrom dbchat_magic import ChatPanel\n"
        "p2 = ChatPanel(list_endpoints=False)\n"
        "h2 = p2.ask('Summarise the quarter in detail')\n"
        "print(json.dumps({'answer': p2.turns[-1].view.answer.model_id}))")
    assert asked.status == "ok", asked.outputs
    answer_id = json.loads(asked.stdout.strip().splitlines()[-1])["answer"]
    other = kernel.execute("import time\ntime.sleep(1.0)  # the user's own slow cell\n"
                           "total = sum(range(1000))\nprint('other cell', total)")
    assert other.status == "ok" and other.stdout == "other cell 499500\n"
    # the other cell got only its own output: nothing of the answer leaked into it
    assert [o.get("text") for o in other.outputs] == ["other cell 499500\n"]
    during = [m for m in other.messages if m.msg_type == "comm_msg"
              and m.content["comm_id"] == answer_id]
    final = _value(kernel, "{'status': r.status, 'text': r.text}", "r = p2.wait(60)")
    assert final["status"] == "completed"
    assert during, "the answer kept streaming while the other cell ran"
    kernel_sim.set_pacing(tokens_per_second=None)
