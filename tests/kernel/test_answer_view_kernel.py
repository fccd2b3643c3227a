"""The widget AnswerView in a real kernel: updates from a background thread reach the frontend
throttled (≤ 10 comm messages a second for a 2,000-token answer), each one replacing the answer's
single output entry, and the final render carries the whole text."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

FEED = """
import threading, time
from dbchat_magic.result import ChatResult
from dbchat_magic.ui import make_answer_view

view = make_answer_view(endpoint="sim", on_stop=None, stop_mode="hint", mode="widget")
view.show()
result = ChatResult(endpoint="sim")

def produce():
    for i in range(2000):
        result.status = "streaming"
        result.text += f"tok{i} "
        view.update(result)
        time.sleep(0.001)
    result.status = "completed"
    view.finish(result, settle=False)

worker = threading.Thread(target=produce)
worker.start()
worker.join()
import json
print(json.dumps({"answer": view.answer.model_id, "type": type(view).__name__,
                  "text_len": len(result.text)}))
"""


def _sent_at(message: Any) -> float:
    """When the kernel made ``message`` (seconds; its header's date)."""
    date = message.msg["header"]["date"]
    return (date if isinstance(date, datetime) else datetime.fromisoformat(str(date))).timestamp()


@pytest.mark.timeout(180)
def test_background_updates_are_throttled_in_a_real_kernel(kernel: Any) -> None:
    run = kernel.execute(FEED, timeout=120)
    assert run.status == "ok", run.outputs
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info["type"] == "WidgetAnswerView"
    shown = [o for o in run.outputs if "application/vnd.jupyter.widget-view+json" in
             o.get("data", {})]
    assert shown and shown[0]["data"]["text/plain"] == "<dbchat answer>"
    updates = [m for m in run.comm_msgs if m.content["data"].get("method") == "update"]
    answer = [m for m in updates if m.content["comm_id"] == info["answer"]
              and "outputs" in m.content["data"].get("state", {})]
    assert len(answer) >= 5, "several intermediate renders"
    assert all(len(m.content["data"]["state"]["outputs"]) == 1 for m in answer)
    final = answer[-1].content["data"]["state"]["outputs"][0]["data"]["text/plain"]
    assert len(final) == info["text_len"]
    # when the kernel sent each update (its header date), not when it arrived here: arrivals
    # bunch up on a loaded machine however well the kernel spaced them
    sent = [_sent_at(m) for m in updates]
    times = sorted(sent)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    duration = times[-1] - times[0]
    detail = [(round(t - times[0], 3), m.content["comm_id"][:6],
               list(m.content["data"]["state"])) for t, m in zip(sent, updates, strict=True)]
    assert busiest <= 12, f"{busiest} widget updates in one second: {detail}"
    assert len(updates) <= 10 * max(duration, 1.0) + 4, (len(updates), duration)
    total_bytes = sum(m.size for m in updates)
    print(f"{len(updates)} updates, {total_bytes / 1024:.0f} KiB over {duration:.2f} s")
