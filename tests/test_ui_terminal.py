"""The plain-text fallback end to end: plain Python and terminal IPython stream to stdout."""

from __future__ import annotations

import os
import subprocess
import sys

from dbchat_magic.simulator import LLAMA, Simulator

PLAIN = f"""
from dbchat_magic.conversation import Conversation
from dbchat_magic.session import Session
from dbchat_magic.ui import make_answer_view

session = Session(Conversation("terminal"))
prepared = session.prepare("How did sales do?", None, {{}})
view = make_answer_view(endpoint=prepared.endpoint, on_stop=None, stop_mode="hint")
print(type(view).__name__)
view.show()
handle = session.start(prepared, {{}}, on_update=view.update)
result = handle.wait(60)
view.finish(result)
assert view.settled_outputs(result) == []
print("STATUS", result.status, {LLAMA!r} in result.endpoint)
"""


def _env(sim: Simulator, tmp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(sim.env())
    env["DBCHAT_CONFIG_DIR"] = tmp
    env["DATABRICKS_CONFIG_FILE"] = os.devnull
    return env


def test_plain_python_streams_text_and_metrics(sim: Simulator, tmp_path: object) -> None:
    sim.set_pacing(tokens_per_second=400)
    run = subprocess.run([sys.executable, "-c", PLAIN], capture_output=True, text=True,
                         timeout=120, env=_env(sim, str(tmp_path)))
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0] == "TextAnswerView"
    answer = sim.stats.log[-1].text
    assert answer in run.stdout  # each piece printed once, in order, nothing repeated
    assert run.stdout.count(answer[:40]) == 1
    metrics = next(line for line in lines if line.startswith("first token"))
    # the shipped default price of the Llama endpoint: an estimated cost ends the line
    assert metrics.endswith(f"60 tokens · {metrics.split(' · ')[3]} · {LLAMA} · "
                            f"{metrics.split(' · ')[-1]}")
    assert metrics.split(" · ")[-1].startswith("≈ $")
    assert lines[-1] == "STATUS completed True"


def test_terminal_ipython_magic_uses_the_text_view(sim: Simulator, tmp_path: object) -> None:
    code = f"%load_ext dbchat_magic\n%dbchat use {LLAMA}\n"
    cell = "%%dbchat\nWhat is the trend?\n"
    run = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "-c",
         f"get_ipython().run_cell({code!r}); get_ipython().run_cell({cell!r})"],
        capture_output=True, text=True, timeout=120, env=_env(sim, str(tmp_path)))
    assert run.returncode == 0, run.stderr[-2000:]
    answer = sim.stats.log[-1].text
    assert answer in run.stdout, run.stdout[-2000:]
    assert "<dbchat answer>" not in run.stdout  # no widget in a terminal
    assert "60 tokens" in run.stdout and LLAMA in run.stdout
