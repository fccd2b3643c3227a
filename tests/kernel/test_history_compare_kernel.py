"""Cost, the history log (surviving a real kernel restart), log/stats/export, --compare and MLflow
traces in a real kernel of this venv, against the simulator over loopback."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from dbchat_magic.simulator import CLAUDE, LLAMA, Gate
from waiting import WAIT

KernelHarness = Any  # the class lives in tests/kernel/conftest.py (not importable)


def _plain(ex: Any) -> list[str]:
    return [o["data"].get("text/plain", "") for o in ex.outputs if "data" in o]


def _html(ex: Any) -> list[str]:
    return [o["data"].get("text/html", "") for o in ex.outputs if "data" in o]


def _restart(kernel: KernelHarness) -> None:
    """A real kernel restart (new process), then the extension loaded again."""
    kernel.km.restart_kernel(now=True)
    kernel.kc.wait_for_ready(timeout=120)
    setup = kernel.execute(f"%load_ext dbchat_magic\n%dbchat use {LLAMA}", timeout=120)
    assert setup.status == "ok", setup.outputs


def test_the_footer_shows_an_estimated_cost_and_history_the_total(kernel: KernelHarness):
    ex = kernel.execute("%%dbchat -c priced\nWhat does this cost?", timeout=90)
    assert ex.status == "ok", ex.outputs
    footer = next(p for p in _plain(ex) if p.startswith("first token"))
    assert footer.split(" · ")[-2:][0] == LLAMA and footer.split(" · ")[-1].startswith("≈ $")
    hist = kernel.execute("%dbchat history -c priced")
    assert "cost: ≈ $" in hist.stdout and "for 1 answer" in hist.stdout
    custom = kernel.execute(  # a price of the user's: exact, no ≈
        "from dbchat_magic.config import Settings\n"
        f"Settings.load().replace(prices={{{LLAMA!r}: {{'input': 100, 'output': 200}}}}).save()")
    assert custom.status == "ok", custom.outputs
    ex = kernel.execute("%%dbchat -c priced\nAnd now?", timeout=90)
    footer = next(p for p in _plain(ex) if p.startswith("first token"))
    assert footer.split(" · ")[-1].startswith("$")
    kernel.execute("Settings.load().replace(prices=None).save()")


def test_a_conversation_continues_after_a_kernel_restart(kernel: KernelHarness, kernel_sim):
    first = kernel.execute("%%dbchat -c sales -o a\nWhich region sold most?", timeout=90)
    assert first.status == "ok", first.outputs
    answer = kernel_sim.stats.log[-1].text
    _restart(kernel)
    assert kernel.execute("print('a' in globals())").stdout == "False\n"  # a new process
    nxt = kernel.execute("%%dbchat -c sales\nAnd the least?", timeout=90)
    assert nxt.status == "ok", nxt.outputs
    sent = [m["content"] for m in kernel_sim.stats.last_body["messages"]]
    assert sent[1:3] == ["Which region sold most?", answer]  # the earlier turn, from the log
    assert sent[-1].endswith("And the least?")


def test_a_restart_after_a_reset_restores_only_the_turns_since(kernel: KernelHarness,
                                                              kernel_sim):
    for question in ("Which book sold most?", "And by month?"):
        ex = kernel.execute(f"%%dbchat -c books\n{question}", timeout=90)
        assert ex.status == "ok", ex.outputs
    reset = kernel.execute("%dbchat reset -c books")
    assert reset.status == "ok" and "conversation 'books' reset" in reset.stdout
    after = kernel.execute("%%dbchat -c books\nStart over: units by region?", timeout=90)
    assert after.status == "ok", after.outputs
    answer = kernel_sim.stats.log[-1].text
    _restart(kernel)
    nxt = kernel.execute("%%dbchat -c books\nAnd the least?", timeout=90)
    assert nxt.status == "ok", nxt.outputs
    sent = [m["content"] for m in kernel_sim.stats.last_body["messages"]]
    assert sent[1:3] == ["Start over: units by region?", answer] and len(sent) == 4
    assert not any("Which book" in text for text in sent)  # nothing from before the reset
    log = kernel.execute("%dbchat log -c books")
    assert log.status == "ok" and "restarted here" in log.stdout


def test_log_search_stats_export_and_forget(kernel: KernelHarness, tmp_path: Path):
    hostile = "colours \x1b]8;;http://evil\x07click\x1b]8;;\x07 \x1b[31mred\x1b[0m please"
    ex = kernel.execute(f"%%dbchat -c logged\n{hostile}", timeout=90)
    assert ex.status == "ok", ex.outputs
    found = kernel.execute("%dbchat log colours --limit 5")
    assert found.status == "ok", found.outputs
    assert "colours" in found.stdout and "logged" in found.stdout and LLAMA[:20] in found.stdout
    assert "\x1b" not in found.stdout and "\x07" not in found.stdout
    assert kernel.execute("%dbchat log nosuchwordanywhere").stdout == "no logged turn matches\n"
    stats = kernel.execute("%dbchat stats")
    row = next(line for line in stats.stdout.splitlines() if line.startswith(LLAMA))
    assert int(row.split()[1]) >= 1 and "≈ $" in row
    assert kernel.execute("%dbchat stats --by day").stdout.count("\n") >= 3
    bad = kernel.execute("%dbchat stats --by month")
    assert bad.status == "error" and "grouped by endpoint or day" in str(bad.errors[0]["evalue"])
    target = tmp_path / "logged.json"
    exp = kernel.execute(f"%dbchat export {target} -c logged --log")
    assert exp.status == "ok", exp.outputs
    data = json.loads(target.read_text())
    assert data["conversation"] == "logged" and data["turns"][0]["question"] == hostile
    assert [m["role"] for m in data["turns"][0]["messages"]] == ["system", "user"]
    forget = kernel.execute("%dbchat log --forget -c logged")
    assert forget.stdout == "deleted 1 logged turn\n"
    assert kernel.execute("%dbchat log colours").stdout == "no logged turn matches\n"


def test_logging_can_be_turned_off(kernel: KernelHarness):
    off = kernel.execute("from dbchat_magic.config import Settings\n"
                         "Settings.load().replace(history_log='off').save()")
    assert off.status == "ok", off.outputs
    try:
        kernel.execute("%%dbchat -c unlogged\nnot written down", timeout=90)
        ex = kernel.execute("%dbchat log written")
        assert ex.status == "error" and "history logging is off" in ex.errors[0]["evalue"]
    finally:
        kernel.execute("Settings.load().replace(history_log=True).save()")
    assert kernel.execute("%dbchat log written").stdout == "no logged turn matches\n"


def test_compare_streams_columns_then_a_table(kernel: KernelHarness, kernel_sim):
    kernel_sim.reset_stats()
    ex = kernel.execute(f"%%dbchat --compare {LLAMA},{CLAUDE} -o cmp\nCompare yourselves",
                        timeout=120)
    assert ex.status == "ok", ex.outputs
    assert kernel_sim.stats.requests_by_endpoint[LLAMA] == 1
    assert kernel_sim.stats.requests_by_endpoint[CLAUDE] == 1
    columns = next(h for h in _html(ex) if "dbchat-compare" in h)
    assert columns.count("dbchat-compare-column") == 2 and "flex-wrap:wrap" in columns
    table = next(p for p in _plain(ex) if p.startswith("endpoint"))
    assert "first token" in table and "tok/s" in table and "cost" in table and "rate" in table
    assert len(table.splitlines()) == 3
    check = kernel.execute("print(len(cmp), sorted(r.status for r in cmp), "
                           f"cmp[{CLAUDE!r}].text == cmp.results[{CLAUDE!r}].text)")
    assert check.stdout == "2 ['completed', 'completed'] True\n"
    bodies = [e for e in kernel_sim.stats.log if e.endpoint in (LLAMA, CLAUDE)]
    assert len(bodies) == 2 and all(e.status == 200 for e in bodies)


def test_one_interrupt_stops_every_compare_column(kernel: KernelHarness, kernel_sim):
    gate = Gate(after_tokens=5)  # both answers held mid-way until the ■
    kernel_sim.set_pacing(gate=gate)
    kernel_sim.reply_tokens = 600
    kernel_sim.reset_stats()  # the log must hold only this cell's requests
    try:
        running = kernel.start(f"%%dbchat --compare {LLAMA},{CLAUDE} -o stopped\nLong one")
        kernel.wait(running, timeout=WAIT,
                    until=lambda _e: {e.endpoint for e in kernel_sim.stats.log
                                      if e.tokens_sent >= 5} == {LLAMA, CLAUDE})
        kernel.interrupt()
        kernel.wait(running, timeout=WAIT)
    finally:
        gate.open()
        kernel_sim.set_pacing(gate=None)
        kernel_sim.reply_tokens = 60
    assert not running.errors  # a stop asked for is not an error: the cell ends normally
    check = kernel.execute("print(sorted(r.status for r in stopped))")
    assert check.stdout == "['stopped', 'stopped']\n"


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None
                    or importlib.util.find_spec("sqlalchemy") is None,
                    reason="MLflow (extra: mlflow) with sqlalchemy is not installed")
def test_an_answer_becomes_an_mlflow_trace(kernel: KernelHarness, tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    setup = kernel.execute(f"import os\nos.environ['MLFLOW_TRACKING_URI'] = {uri!r}")
    assert setup.status == "ok"
    ex = kernel.execute("%%dbchat -o traced\nTrace this answer", timeout=120)
    assert ex.status == "ok", ex.outputs
    check = kernel.execute(
        "from dbchat_magic import tracing\n"
        "assert tracing.flush(300)\n"
        "import mlflow\n"
        "(t,) = mlflow.MlflowClient().search_traces(locations=['0'])\n"
        "span = next(s for s in t.data.spans if s.span_type == 'CHAT_MODEL')\n"
        "u = span.attributes['mlflow.chat.tokenUsage']\n"
        "print(span.outputs == traced.text, u['output_tokens'] == "
        "traced.usage.completion_tokens, span.attributes['status'])", timeout=400)
    assert check.stdout == "True True completed\n", check.outputs
    kernel.execute("del os.environ['MLFLOW_TRACKING_URI']")
