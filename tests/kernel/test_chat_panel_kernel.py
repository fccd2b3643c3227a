"""The ChatPanel's plain transcript and Enter-to-send in a real kernel (ipywidgets 8 and 7.8).

Displaying the panel gives two outputs: the widget (with an empty text/html fallback) and the
transcript (text/html + text/plain, with a display id). Each turn updates the transcript through
``update_display_data``, so what a saved notebook holds follows the conversation. Enter is sent
the way a browser sends it: a ``submit`` custom message, then the committed value.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dbchat_magic.simulator import LLAMA, Simulator

VIEW = "application/vnd.jupyter.widget-view+json"


def _value(kernel: Any, expression: str, setup: str = "") -> Any:
    run = kernel.execute(f"{setup}\nimport json as _j\nprint(_j.dumps({expression}))", timeout=120)
    assert run.status == "ok", run.outputs
    return json.loads(run.stdout.strip().splitlines()[-1])


def _updates(messages: list[Any], display_id: str) -> list[dict[str, Any]]:
    return [m.content["data"] for m in messages if m.msg_type == "update_display_data"
            and m.content.get("transient", {}).get("display_id") == display_id]


@pytest.mark.timeout(300)
def test_the_transcript_output_follows_every_turn(kernel: Any, kernel_sim: Simulator) -> None:
    kernel_sim.set_pacing(tokens_per_second=None)
    made = kernel.execute("from dbchat_magic import ChatPanel\n"
                          "tpanel = ChatPanel(list_endpoints=False, conversation='k-transcript')\n"
                          "tpanel")
    assert made.status == "ok", made.outputs
    shown = [m for m in made.messages if m.msg_type == "display_data"]
    assert len(shown) == 2, [m.content for m in shown]
    widget, transcript = (m.content for m in shown)
    assert VIEW in widget["data"] and widget["data"]["text/html"] == ""
    display_id = transcript["transient"]["display_id"]
    assert 'class="dbchat-transcript"' in transcript["data"]["text/html"]
    assert "0 questions" in transcript["data"]["text/plain"]

    asked = kernel.execute("r = tpanel.ask('What drove revenue? k-transcript')\n"
                           "print(tpanel.wait(60).status)", timeout=120)
    assert asked.stdout.strip() == "completed", asked.outputs
    updates = _updates(asked.messages, display_id)
    while len(updates) < 2:  # the answer's own update may come after the cell's idle
        kernel.poll(asked, 0.5)
        updates = _updates(asked.messages, display_id)
        assert time.monotonic() - asked.started < 60, "no transcript update for the answer"
    asking, answered = updates[0], updates[-1]
    assert "You: What drove revenue? k-transcript" in asking["text/plain"]
    assert "… answering" in asking["text/plain"]
    text = _value(kernel, "tpanel.turns[-1].result.text")
    assert f"{LLAMA}: {text}" in answered["text/plain"] and "tokens" in answered["text/plain"]
    assert "What drove revenue? k-transcript" in answered["text/html"]
    assert "1 question" in answered["text/plain"]
    token = kernel_sim.token
    assert token and all(token not in json.dumps(m.msg, default=str) for m in asked.messages)


@pytest.mark.timeout(300)
def test_enter_in_the_question_box_sends(kernel: Any, kernel_sim: Simulator) -> None:
    kernel_sim.set_pacing(tokens_per_second=None)
    line = _value(kernel, "epanel.input.model_id",
                  "from dbchat_magic import ChatPanel\nepanel = ChatPanel(list_endpoints=False)")
    kernel.send_comm(line, {"method": "custom", "content": {"event": "submit"}})
    kernel.send_comm(line, {"method": "update", "state": {"value": "sent with Enter"},
                            "buffer_paths": []})
    deadline = time.monotonic() + 60
    while not _value(kernel, "len(epanel.turns)"):
        assert time.monotonic() < deadline, "Enter did not send the question"
        time.sleep(0.1)
    done = _value(kernel, "{'q': epanel.turns[-1].question, 's': epanel.wait(60).status, "
                          "'box': epanel.input.value}")
    assert done == {"q": "sent with Enter", "s": "completed", "box": ""}
    left = _value(kernel, "len(epanel.turns)", "")
    kernel.send_comm(line, {"method": "update", "state": {"value": "only a draft"},
                            "buffer_paths": []})  # leaving the box: no submit
    assert _value(kernel, "[len(epanel.turns), epanel.input.value]") == [left, "only a draft"]
