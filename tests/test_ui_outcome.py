"""One look per outcome and hints that match the cause, from real failures of the simulator."""

from __future__ import annotations

import pytest

from client_helpers import ask, client_for
from dbchat_magic.client import ChatClient
from dbchat_magic.config import Settings
from dbchat_magic.result import ChatResult, Usage
from dbchat_magic.simulator import Simulator
from dbchat_magic.ui import OutcomeLine, format_metrics, outcome, settled_outputs


def test_a_dropped_stream_says_ask_again_not_check_the_host(sim: Simulator) -> None:
    sim.inject("drop", times=5)
    r = ask(client_for(sim, max_retries=1))
    found = outcome(r)
    assert r.status == "failed" and r.error_kind == "DbChatError" and found is not None
    assert found.tone == "red" and found.text.endswith("— ask again")
    assert "workspace host" not in found.text


def test_a_connection_dropped_mid_answer_is_amber_and_keeps_the_partial_answer(
        sim: Simulator) -> None:
    sim.inject("disconnect", after=5)
    r = ask(client_for(sim))
    found = outcome(r)
    assert r.status == "truncated" and found is not None
    assert found.tone == "amber"
    assert "partial answer kept" in found.text and "ask again" in found.text
    assert "workspace host" not in found.text


def test_a_rejected_token_says_how_to_make_one_and_where_it_came_from(sim: Simulator) -> None:
    wrong = "not-the-" + "token-" + "x" * 12  # built at run time: no literal credential
    r = ask(ChatClient(Settings(host=sim.url), token=wrong))
    found = outcome(r)
    assert r.error_kind == "AuthError" and found is not None and found.tone == "red"
    assert "explicit token argument" in found.text  # the source, never the value
    assert wrong not in found.text and wrong not in (r.error or "")
    assert "Access tokens" in found.text and "CAN QUERY" not in found.text


def test_can_query_is_only_for_a_real_permission_refusal(sim: Simulator) -> None:
    sim.inject("403")
    r = ask(client_for(sim))
    found = outcome(r)
    assert r.error_kind == "AuthError" and found is not None
    assert found.text.count("CAN QUERY") == 1 and "Access tokens" not in found.text


@pytest.mark.parametrize("fault", ["401", "404", "drop"])
def test_no_timing_footer_when_nothing_was_received(sim: Simulator, fault: str) -> None:
    sim.inject(fault, times=5)
    r = ask(client_for(sim, max_retries=0))
    assert r.status == "failed" and r.metrics.total_time is not None
    assert format_metrics(r) == ""
    assert not any("total" in repr(item) for item in settled_outputs(r))


def test_stopped_is_one_amber_line_with_or_without_a_partial_answer() -> None:
    before = ChatResult(status="stopped")
    assert outcome(before).text == "■ stopped before the first token"  # type: ignore[union-attr]
    assert "partial" not in outcome(before).text  # type: ignore[union-attr]
    assert format_metrics(before) == ""
    after = ChatResult(status="stopped", text="x " * 100, usage=Usage(completion_tokens=212))
    after.metrics.time_to_first_token = 0.1
    found = outcome(after)
    assert found is not None and found.tone == "amber"
    assert found.text == "■ stopped after 212 tokens — partial answer kept"
    lines = [item for item in settled_outputs(after) if isinstance(item, OutcomeLine)]
    assert len(lines) == 1 and "stopped" not in format_metrics(after)
    assert "#b00020" not in lines[0].as_html() and "dbchat-amber" in lines[0].as_html()


def test_completed_has_no_outcome_line() -> None:
    done = ChatResult(status="completed", text="hi")
    assert outcome(done) is None
    assert not any(isinstance(item, OutcomeLine) for item in settled_outputs(done))


def test_outcome_text_from_outside_is_escaped() -> None:
    r = ChatResult(status="failed", error="<img src=x onerror=alert(1)>\x1b]52;c;x\x07",
                   error_kind="ServerError")
    html = outcome(r).as_html()  # type: ignore[union-attr]
    assert "<img" not in html and "\x1b" not in html and "&lt;img" in html
