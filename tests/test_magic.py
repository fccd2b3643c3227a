"""The magics in an in-process IPython shell (text view) against the simulator over loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from dbchat_magic.simulator import CLAUDE, LLAMA, Gate, Simulator
from waiting import WAIT, interrupt_main_once, wait_until

IPython = pytest.importorskip("IPython")


@pytest.fixture
def shell(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An InteractiveShell with the extension loaded and credentials pointing at ``sim``."""
    from IPython.core.interactiveshell import InteractiveShell

    from dbchat_magic.conversation import _forget_all
    from dbchat_magic.session._pipeline import _sessions

    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    _forget_all()
    _sessions.clear()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dbchat_magic")
    yield ip
    ip.run_line_magic("unload_ext", "dbchat_magic")
    for name in ("_dbchat_last", "answer", "region"):
        ip.user_ns.pop(name, None)
    _forget_all()
    _sessions.clear()


def run(ip, code: str):
    return ip.run_cell(code, store_history=False)


def test_load_ext_imports_nothing_heavy():
    """``%load_ext`` imports none of the heavy dependencies (its time is a benchmark:
    bench/bench_load.py, target ≤ 150 ms; a timed assertion fails on a loaded machine)."""
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'dbchat_magic')\n"
        "print('loaded', 'dbchat' in ip.magics_manager.magics['cell'])\n"
        "print(*[m for m in ('httpx', 'pandas', 'ipywidgets', 'altair', 'jsonschema')\n"
        "        if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         check=True).stdout.splitlines()
    assert out[0] == "loaded True", out
    assert out[1:] == [""], f"imported at load time: {out[1:]}"


def test_cell_streams_text_and_stores_result(shell, sim, capsys):
    res = run(shell, f"%%dbchat -e {LLAMA} -o answer\nWhat is the revenue trend?")
    assert res.error_in_exec is None
    out = capsys.readouterr().out
    answer = shell.user_ns["answer"]
    assert shell.user_ns["_dbchat_last"] is answer
    assert answer.status == "completed"
    assert answer.text and answer.text in out
    assert answer.text == sim.stats.log[-1].text
    assert answer.metrics.total_time is not None and answer.usage.completion_tokens
    assert sim.stats.requests_by_endpoint[LLAMA] == 1


def test_question_on_the_magic_line_and_interpolation(shell, sim):
    shell.user_ns["region"] = "EMEA"
    res = run(shell, f'%%dbchat -e {LLAMA} revenue in {{region}}\nas JSON {{"k": 1}}')
    assert res.error_in_exec is None
    sent = sim.stats.last_body["messages"][-1]["content"]
    assert "revenue in EMEA" in sent and 'as JSON {"k": 1}' in sent


def test_follow_up_carries_history_and_no_history_does_not(shell, sim):
    run(shell, f"%%dbchat -e {LLAMA}\nfirst question about sales")
    first = shell.user_ns["_dbchat_last"].text
    run(shell, f"%%dbchat -e {LLAMA}\nand the second one?")
    msgs = sim.stats.last_body["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[2]["content"] == first
    run(shell, f"%%dbchat -e {LLAMA} --no-history\nalone")
    assert [m["role"] for m in sim.stats.last_body["messages"]] == ["system", "user"]
    run(shell, f"%%dbchat -e {LLAMA} -c other\nseparate chat")
    assert [m["role"] for m in sim.stats.last_body["messages"]] == ["system", "user"]
    run(shell, f"%%dbchat -e {LLAMA} --new\nfresh start")
    assert [m["role"] for m in sim.stats.last_body["messages"]] == ["system", "user"]


def test_show_prompt_prints_messages_and_sends_nothing(shell, sim, capsys):
    res = run(shell, f"%%dbchat -e {LLAMA} --show-prompt -t 0.7\nWhat is up?")
    assert res.error_in_exec is None
    out = capsys.readouterr().out
    assert sim.stats.requests == 0
    assert "nothing was sent" in out and "temperature=0.7" in out
    assert "message 1: system" in out and "message 2: user" in out and "What is up?" in out
    assert "total" in out and "tokens" in out


def test_options_reach_the_request_body(shell, sim):
    run(shell, f"%%dbchat -e {CLAUDE} -t 0.5 -m 77\nhello")
    body = sim.stats.last_body
    assert body["temperature"] == 0.5 and body["max_tokens"] == 77
    assert sim.stats.requests_by_endpoint[CLAUDE] == 1


def test_404_with_no_raise_fails_inside_the_view_without_raising(shell, sim, capsys):
    res = run(shell, "%%dbchat -e no-such-endpoint --no-raise\nhello")
    assert res.error_in_exec is None
    last = shell.user_ns["_dbchat_last"]
    assert last.status == "failed"
    assert "no-such-endpoint" in (last.error or "")
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err


def test_setup_errors_are_one_line(shell, sim, monkeypatch, capsys):
    res = run(shell, f"%%dbchat -e {LLAMA} -d no_such_frame\nhello")
    assert type(res.error_in_exec).__name__ in ("CellError",)
    assert res.error_in_exec._render_traceback_()[0].startswith("dbchat: ")
    assert "no_such_frame" in str(res.error_in_exec)
    assert res.error_in_exec.kind == "FrameNotFound"  # the typed error is kept, not re-worded
    assert res.error_in_exec.__cause__ is res.error_in_exec.error
    res = run(shell, "%%dbchat\n")  # IPython's own one-line UsageError for an empty body
    assert "cell body is empty" in str(res.error_in_exec)
    res = run(shell, "%%dbchat -t 0.1\n   \n")
    assert "no question" in str(res.error_in_exec)
    monkeypatch.delenv("DATABRICKS_TOKEN")
    monkeypatch.delenv("DATABRICKS_HOST")
    res = run(shell, f"%%dbchat -e {LLAMA} --no-raise\nhello")
    last = shell.user_ns["_dbchat_last"]
    assert res.error_in_exec is None and last.status == "failed"
    assert "credentials" in last.error and "DATABRICKS_TOKEN" in last.error
    err = capsys.readouterr().err + capsys.readouterr().out
    assert "Traceback" not in err
    assert sim.stats.requests == 0


def test_use_persists_and_applies_to_the_next_question(shell, sim, capsys):
    from dbchat_magic.config import Settings

    run(shell, f"%dbchat use {CLAUDE}")
    assert Settings.load().endpoint == CLAUDE
    assert "saved" in capsys.readouterr().out
    run(shell, "%%dbchat\nwho answers?")
    assert sim.stats.requests_by_endpoint[CLAUDE] == 1
    assert shell.user_ns["_dbchat_last"].endpoint == CLAUDE


def test_config_endpoints_history_export_never_show_the_token(shell, sim, capsys, tmp_path):
    run(shell, f"%%dbchat -e {LLAMA}\nquestion for the record")
    capsys.readouterr()
    run(shell, "%dbchat config")
    config_out = capsys.readouterr().out
    assert "endpoint" in config_out and "DATABRICKS_TOKEN" in config_out
    assert "press ■" in config_out  # no kernel here: no Stop button in blocking cells
    run(shell, "%dbchat endpoints")
    listing = capsys.readouterr().out
    assert LLAMA in listing and CLAUDE in listing and "gte-large" not in listing
    run(shell, "%dbchat history")
    assert "question for the record" in capsys.readouterr().out
    run(shell, f"%dbchat export {tmp_path / 'chat.json'}")
    run(shell, f"%dbchat export {tmp_path / 'chat.md'}")
    data = json.loads((tmp_path / "chat.json").read_text())
    assert data["turns"][0]["question"] == "question for the record"
    assert data["turns"][0]["usage"]["completion_tokens"]
    md = (tmp_path / "chat.md").read_text()
    for text in (config_out, listing, md, json.dumps(data)):
        assert sim.token not in text
    run(shell, "%dbchat reset")
    run(shell, "%dbchat history")
    assert "is empty" in capsys.readouterr().out
    shown = run(shell, "%dbchat last")  # draws the answer (the result is in _dbchat_last)
    assert shown.error_in_exec is None and shown.result is None
    assert shell.user_ns["_dbchat_last"].text in capsys.readouterr().out
    res = run(shell, "%dbchat frobnicate")
    assert "unknown command" in str(res.error_in_exec)


def test_background_returns_at_once_and_finishes_later(shell, sim):
    gate = Gate(after_tokens=10)  # the answer is held until the cell has returned
    sim.set_pacing(gate=gate)
    try:
        res = run(shell, f"%%dbchat -e {LLAMA} --background -o answer\nslow one")
        assert res.error_in_exec is None
        assert "answer" not in shell.user_ns  # returned before the answer was complete
    finally:
        gate.open()
    wait_until(lambda: "answer" in shell.user_ns, "the background answer")
    assert shell.user_ns["answer"].status == "completed"


def test_interrupt_stops_the_answer_with_one_line(shell, sim, monkeypatch):
    from dbchat_magic.session import Session

    started: list[Any] = []  # the cell's handle: ■ waits until its answer has text, not sent
    real_start = Session.start

    def start(self: Session, *args: Any, **kwargs: Any) -> Any:
        started.append(real_start(self, *args, **kwargs))
        return started[-1]

    monkeypatch.setattr(Session, "start", start)
    gate = Gate(after_tokens=10)  # the answer cannot end before the interrupt
    sim.set_pacing(gate=gate)
    try:
        interrupter = interrupt_main_once(
            lambda: gate.reached.is_set() and started and started[0].result.text,
            "wait_interruptibly")
        res = run(shell, f"%%dbchat -e {LLAMA}\na long answer please")
        interrupter.join(WAIT)
        assert res.error_in_exec is None  # a stop asked for is not an error
        last = shell.user_ns["_dbchat_last"]
        assert last.status == "stopped" and last.text
        [gone] = wait_until(lambda: sim.stats.disconnects, "the simulator to see a disconnect")
    finally:
        gate.open()
    assert gone.tokens_sent == gate.after_tokens  # closed while held: the answer was cut short


def test_panel_command_opens_independent_or_named_panels(shell, sim):
    pytest.importorskip("ipywidgets")
    from dbchat_magic.session import get_session

    panel = run(shell, "%dbchat panel").result
    assert type(panel).__name__ == "ChatPanel"
    assert panel.session is not get_session("default")
    shared = run(shell, "%dbchat panel -c sales").result
    assert shared.session is get_session("sales")


def test_history_shows_specs_as_words_not_json(shell, sim, capsys):
    sim.script("kpi please", 'Total below.\n```json\n{"widget": "kpi", "data": "sales", '
               '"aggregate": "sum", "field": "revenue"}\n```')
    run(shell, f"%%dbchat -e {LLAMA} --new\nkpi please")
    capsys.readouterr()
    run(shell, "%dbchat history")
    out = capsys.readouterr().out
    assert "A (completed): Total below. [KPI sum(revenue) from sales]" in out
    assert '"widget"' not in out


def test_endpoints_and_config_show_the_endpoint_kind(shell, sim, capsys):
    from dbchat_magic.config import Settings
    from dbchat_magic.simulator import RESPONSES_AGENT

    run(shell, "%dbchat endpoints")
    row = next(line for line in capsys.readouterr().out.splitlines() if RESPONSES_AGENT in line)
    assert row.split()[-2:] == ["agent/v1/responses", "responses"]
    run(shell, f"%dbchat use {RESPONSES_AGENT}")
    capsys.readouterr()
    run(shell, "%dbchat config")
    out = capsys.readouterr().out
    assert "endpoint kind" in out and "responses (task agent/v1/responses)" in out
    Settings.load().replace(api="chat").save()
    run(shell, "%dbchat config")
    assert "chat (api setting)" in capsys.readouterr().out
def test_a_failed_answer_ends_the_cell_in_one_line(shell, sim, capsys):
    """Run All, nbval, papermill and jobs stop at a failed cell: one line, no traceback."""
    res = run(shell, "%%dbchat -e no-such-endpoint\nhello")
    err = res.error_in_exec
    assert type(err).__name__ == "AnswerFailed"
    lines = err._render_traceback_()
    assert len(lines) == 1 and lines[0].startswith("✗ failed: endpoint 'no-such-endpoint'")
    assert "%dbchat endpoints" in lines[0]
    assert err.result is shell.user_ns["_dbchat_last"] and err.result.status == "failed"
    assert err.result.error_kind == "EndpointNotFound"
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert out.out.count("✗ failed") == 1  # said once: by the cell's error, not also by the view
    assert "total 0.0 s" not in out.out and "total" not in out.out  # nothing was received


def test_a_failure_mid_answer_keeps_the_partial_answer_and_raises(shell, sim, capsys):
    sim.inject("error_midstream", after=8)
    res = run(shell, f"%%dbchat -e {LLAMA} -o answer\na long answer please")
    err = res.error_in_exec
    assert type(err).__name__ == "AnswerFailed"
    answer = shell.user_ns["answer"]
    assert answer.status == "failed" and answer.text and err.result is answer
    assert answer.text in capsys.readouterr().out  # the partial answer is still shown
    assert "partial answer" in err._render_traceback_()[0]


def test_raise_on_failure_off_keeps_todays_behaviour(shell, sim):
    from dbchat_magic.config import Settings

    Settings.load().replace(raise_on_failure="off").save()
    res = run(shell, "%%dbchat -e no-such-endpoint\nhello")
    assert res.error_in_exec is None
    assert shell.user_ns["_dbchat_last"].status == "failed"


@pytest.mark.parametrize("how", ["reset", "new"])
def test_a_restore_after_a_reset_continues_from_the_reset(shell, sim, capsys, how):
    from dbchat_magic.conversation import _forget_all
    from dbchat_magic.session._pipeline import _sessions

    for question in ("first question about sales", "and the second one?"):
        run(shell, f"%%dbchat -e {LLAMA} -c sales\n{question}")
    if how == "reset":
        run(shell, "%dbchat reset -c sales")
    run(shell, f"%%dbchat -e {LLAMA} -c sales{' --new' if how == 'new' else ''}\nstart over")
    assert [m["role"] for m in sim.stats.last_body["messages"]] == ["system", "user"]
    answer = shell.user_ns["_dbchat_last"].text
    _forget_all()  # what a kernel restart loses
    _sessions.clear()
    run(shell, f"%%dbchat -e {LLAMA} -c sales\nand now?")
    sent = [m["content"] for m in sim.stats.last_body["messages"]]
    assert sent[1:3] == ["start over", answer] and len(sent) == 4  # only the turn since
    capsys.readouterr()
    run(shell, "%dbchat log -c sales")
    lines = capsys.readouterr().out.splitlines()
    mark = next(i for i, line in enumerate(lines) if "restarted here" in line)
    assert "start over" in lines[mark - 1] and "second one" in lines[mark + 1]
