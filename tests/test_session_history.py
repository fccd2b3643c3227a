"""Cost, the history log and compare through the session, on the simulator over loopback."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dbchat_magic.config import Settings
from dbchat_magic.conversation import Conversation, _forget_all
from dbchat_magic.errors import ConfigError
from dbchat_magic.history import HistoryStore
from dbchat_magic.pricing import Cost
from dbchat_magic.session import (
    AskOptions,
    Session,
    get_session,
    parse_targets,
    prepare_compare,
    start_compare,
)
from dbchat_magic.session._pipeline import _sessions
from dbchat_magic.simulator import CLAUDE, LLAMA, Gate
from dbchat_magic.ui import format_metrics


def _session(name: str = "t", **settings) -> Session:
    current = Settings(endpoint=LLAMA).replace(**settings)
    return Session(Conversation(name), settings=lambda: current)


def _ask(s: Session, question: str, **options):
    return s.start(s.prepare(question, AskOptions(**options), {}), {}).wait(30)


def _db() -> Path:
    return Path(os.environ["DBCHAT_CONFIG_DIR"]) / "history.db"


def test_prices_setting_is_validated_and_parsed_from_json():
    s = Settings().replace(prices='{"my-*": {"input": 1, "output": 2}}')
    assert s.prices == {"my-*": {"input": 1, "output": 2}}
    assert Settings.from_dict(s.to_dict()).prices == s.prices
    with pytest.raises(ConfigError, match="prices\\['x'\\]: unknown key 'inptu'"):
        Settings(prices={"x": {"inptu": 1, "output": 2}})
    with pytest.raises(ConfigError, match="prices must be JSON"):
        Settings().replace(prices="{not json")
    assert Settings().replace(prices="none").prices is None


def test_cost_of_a_priced_endpoint_is_in_the_result_and_the_footer(env):
    s = _session(prices={LLAMA: {"input": 1000.0, "output": 2000.0}})
    result = _ask(s, "what does it cost?")
    cost = result.extras["cost"]
    u = result.usage
    assert isinstance(cost, Cost) and not cost.estimated  # the server counted, the user priced
    assert cost.usd == pytest.approx((u.prompt_tokens * 1000 + u.completion_tokens * 2000) / 1e6)
    assert re.search(r" · \$\d+\.\d{2,4}$", format_metrics(result))


def test_a_shipped_default_price_is_marked_estimated_and_no_price_shows_no_cost(env):
    result = _ask(_session(), "default price")
    assert result.extras["cost"].estimated
    assert format_metrics(result).endswith(" · ≈ " + format_metrics(result).split(" ≈ ")[-1])
    hidden = _ask(_session(prices={LLAMA: None}), "no price")  # null hides the default
    assert "cost" not in hidden.extras and "$" not in format_metrics(hidden)


def test_every_turn_is_logged_with_messages_usage_cost_and_no_credential(env):
    s = _session("logged")
    secret = "dapi" + "0123456789abcdef" * 2
    result = _ask(s, f"my token is {secret}, how are sales?")
    _ask(s, "and then?")
    store = HistoryStore(_db())
    turns = store.conversation("logged")
    assert [t.question for t in turns][1] == "and then?"
    first = turns[0]
    assert secret not in first.question and secret not in str(first.messages)
    assert first.answer == result.text and first.endpoint == LLAMA
    assert first.usage.completion_tokens == result.usage.completion_tokens
    assert first.cost is not None and first.cost.usd == pytest.approx(result.extras["cost"].usd)
    assert [m["role"] for m in turns[1].messages] == ["system", "user", "assistant", "user"]
    assert secret not in _db().read_bytes().decode("latin-1")


def test_history_log_off_logs_nothing(env):
    _ask(_session("quiet", history_log=False), "not logged")
    assert not _db().exists() or HistoryStore(_db()).count() == 0


def test_a_log_that_cannot_be_written_is_one_note_and_the_answer_is_kept(env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    s = _session("broken", history_path=str(blocker / "sub" / "history.db"))
    first = _ask(s, "first")
    second = _ask(s, "second")
    assert first.status == second.status == "completed"
    notes = first.extras.get("session_notes") or []
    assert len(notes) == 1 and "history logging is off" in notes[0]
    assert not second.extras.get("session_notes")  # one note, then off


def test_a_named_conversation_continues_from_the_log_in_a_new_process_state(live):
    _forget_all()
    _sessions.clear()
    s = get_session("sales")
    _ask(s, "first question")
    answer = s.conversation.turns[0].answer
    _forget_all()  # what a kernel restart loses
    _sessions.clear()
    restored = get_session("sales")
    assert [t.question for t in restored.conversation.turns] == ["first question"]
    _ask(restored, "second question")
    sent = live.stats.last_body["messages"]
    assert [m["content"] for m in sent[1:3]] == ["first question", answer]
    assert get_session("fresh").conversation.turns == []


def test_new_marks_a_reset_so_a_restore_starts_after_it(live):
    _forget_all()
    _sessions.clear()
    s = get_session("sales")
    _ask(s, "one")
    _ask(s, "two")
    fresh = get_session("sales", new=True)  # what --new does
    _ask(fresh, "three")
    answer = fresh.conversation.turns[0].answer
    _forget_all()  # what a kernel restart loses
    _sessions.clear()
    restored = get_session("sales")
    assert [t.question for t in restored.conversation.turns] == ["three"]
    assert [t.question for t in HistoryStore(_db()).conversation("sales")] == ["one", "two",
                                                                            "three"]
    _ask(restored, "four")
    sent = [m["content"] for m in live.stats.last_body["messages"]]
    assert sent[1:3] == ["three", answer] and len(sent) == 4


def test_compare_targets_are_checked():
    assert parse_targets(f"{LLAMA}, {CLAUDE}") == [LLAMA, CLAUDE]
    for bad in (LLAMA, f"{LLAMA},{LLAMA}", ",".join(f"e{i}" for i in range(7))):
        with pytest.raises(ConfigError, match="2 to 6"):
            parse_targets(bad)


def test_compare_sends_the_same_prompt_to_each_and_keeps_them_out_of_the_chat(env):
    settings = Settings(endpoint=LLAMA).with_profile("fast", CLAUDE, max_tokens=77)
    s = Session(Conversation("cmp"), settings=lambda: settings)
    prepared = prepare_compare(s, "compare me", [LLAMA, "fast"], AskOptions(), {})
    assert [p.endpoint for p in prepared] == [LLAMA, CLAUDE]
    assert prepared[0].messages == prepared[1].messages
    assert prepared[1].params["max_tokens"] == 77
    run = start_compare(s, prepared, {})
    result = run.finish()
    assert [r.status for r in result] == ["completed", "completed"]
    assert set(env.stats.requests_by_endpoint) >= {LLAMA, CLAUDE}
    assert len(s.conversation) == 0  # no answer is "the" answer of the chat
    assert [row[0] for row in result.rows()] == [LLAMA, CLAUDE]
    assert "first token" in result.table_text() and "<table" in result._repr_html_()
    assert HistoryStore(_db()).count() == 2  # both logged,
    restored = Conversation("cmp")
    from dbchat_magic.session._turn_log import restore

    restore(restored, settings)
    assert len(restored) == 0  # but never restored into the conversation


def test_compare_cancel_stops_every_answer(env):
    gate = Gate(after_tokens=3)  # neither answer can end before the cancel
    env.set_pacing(gate=gate)
    try:
        s = _session("cmp-stop")
        run = start_compare(s, prepare_compare(s, "long", [LLAMA, CLAUDE], AskOptions(), {}), {})
        run.cancel()
        result = run.finish()
    finally:
        gate.open()
        env.set_pacing(gate=None)
    assert [r.status for r in result] == ["stopped", "stopped"]


@pytest.mark.parametrize("n", [1, 2, 7, 20, 37])
def test_stats_percentiles_from_sql_are_the_nearest_rank_ones(tmp_path, n):
    import random

    from dbchat_magic.history import TurnRecord
    from dbchat_magic.history._query import percentile
    from dbchat_magic.result import Metrics

    rng = random.Random(n)
    store = HistoryStore(tmp_path / "h.db")
    values = {"a": [], "b": []}
    for i in range(n * 2):
        key = "ab"[i % 2]
        ttft = round(rng.uniform(0.01, 3.0), 4)
        values[key].append(ttft)
        store.log_turn(TurnRecord(question=f"q{i}", endpoint=key,
                                  metrics=Metrics(time_to_first_token=ttft, total_time=ttft + 1)))
    rows = {r.key: r for r in store.stats()}
    for key, got in values.items():
        ordered = sorted(got)
        assert rows[key].count == n
        assert rows[key].ttft_p50 == percentile(ordered, 0.5)
        assert rows[key].ttft_p95 == ordered[max(1, -(-95 * n // 100)) - 1]
        assert rows[key].total_p95 == pytest.approx(ordered[max(1, -(-95 * n // 100)) - 1] + 1)
