"""Session pipeline on the simulator: compose, stream, stop, specs + one repair turn, record."""

from __future__ import annotations

import threading

import pytest

from dbchat_magic.config import Settings
from dbchat_magic.conversation import Conversation
from dbchat_magic.errors import DbChatError
from dbchat_magic.session import AskOptions, Session
from dbchat_magic.simulator import CLAUDE, LLAMA, Gate
from waiting import WAIT, wait_until


def _session(**settings) -> Session:
    current = Settings(endpoint=LLAMA).replace(**settings) if settings else Settings(endpoint=LLAMA)
    return Session(Conversation("t"), settings=lambda: current)


def test_prepare_composes_system_and_user_with_spec_rules_and_params():
    s = _session(temperature=0.3, max_tokens=200)
    p = s.prepare("How many rows?", AskOptions(max_tokens=50), {})
    assert [m["role"] for m in p.messages] == ["system", "user"]
    assert "How many rows?" in p.messages[-1]["content"]
    assert "widget" in p.messages[0]["content"]  # specs.format_rules() went into the system prompt
    assert (p.endpoint, p.params) == (LLAMA, {"temperature": 0.3, "max_tokens": 50})
    assert p.parts and all(part.chars >= 0 and part.tokens >= 0 for part in p.parts)


def test_settings_are_read_fresh_on_every_prepare():
    current = {"s": Settings(endpoint=LLAMA)}
    s = Session(Conversation(), settings=lambda: current["s"])
    assert s.prepare("q", None, {}).endpoint == LLAMA
    current["s"] = Settings(endpoint=CLAUDE)
    assert s.prepare("q", None, {}).endpoint == CLAUDE
    assert s.prepare("q", AskOptions(endpoint=LLAMA), {}).endpoint == LLAMA


def test_missing_frame_is_an_early_error():
    with pytest.raises(DbChatError, match="nope"):
        _session().prepare("q", AskOptions(frames=["nope"]), {})


def test_start_streams_updates_and_records_the_turn(env):
    s = _session()
    updates: list[int] = []
    done = threading.Event()
    handle = s.start(s.prepare("hello there", None, {}), {},
                     on_update=lambda r: updates.append(len(r.text)),
                     on_done=lambda r: done.set())
    result = handle.wait(WAIT)
    assert done.wait(WAIT) and handle.done
    assert result.status == "completed" and result.text == env.stats.log[-1].text
    assert len(updates) >= 5 and updates == sorted(updates)
    turns = s.conversation.turns
    assert len(turns) == 1 and turns[0].question == "hello there" and turns[0].result is result
    follow = s.prepare("and then?", None, {})
    assert [m["role"] for m in follow.messages] == ["system", "user", "assistant", "user"]


def test_stop_before_the_pipeline_ran_still_settles_the_turn(env):
    from dbchat_magic.runner import get_runner

    s = _session()
    runner = get_runner()
    prepared = s.prepare("stop me at once", None, {})
    runner.client(prepared.settings)  # made now, so the busy loop below cannot delay it
    release = threading.Event()

    async def hold_the_loop() -> None:
        release.wait(WAIT)  # blocks the loop until the cancel: the pipeline cannot start first

    busy = runner.submit(hold_the_loop())
    finished: list[str] = []
    try:
        handle = s.start(prepared, {}, on_done=lambda r: finished.append(r.status))
        handle.cancel()
    finally:
        release.set()
    busy.result(WAIT)
    handle.wait(WAIT)
    assert handle.done and handle.result.status == "stopped"
    assert finished == ["stopped"]
    assert [t.question for t in s.conversation.turns] == ["stop me at once"]
    assert env.stats.requests == 0


def test_cancel_closes_the_connection_fast_and_keeps_partial_text(env):
    gate = Gate(after_tokens=10)  # the answer is held mid-way: only the cancel can end it
    env.set_pacing(gate=gate)
    s = _session()
    try:
        handle = s.start(s.prepare("long please", None, {}), {})
        wait_until(lambda: len(handle.result.text) >= 20, "20 characters of the answer")
        handle.cancel()
        assert handle.future.wait_settled(WAIT)
        # settled and closed while the answer was still held (bench/bench_frontend.py times it)
        [gone] = wait_until(lambda: env.stats.disconnects, "the server to see the close")
    finally:
        gate.open()
    assert handle.result.status == "stopped" and handle.result.text
    assert gone.tokens_sent == gate.after_tokens
    assert s.conversation.turns[-1].result.status == "stopped"


def test_ask_blocking_interrupt_returns_stopped(env):
    gate = Gate(after_tokens=10)  # the answer cannot end before the 5th tick's interrupt
    env.set_pacing(gate=gate)
    s = _session()
    ticks = {"n": 0}

    def tick() -> None:
        ticks["n"] += 1
        if ticks["n"] == 5:
            raise KeyboardInterrupt

    try:
        result = s.ask_blocking(s.prepare("slow", None, {}), {}, on_tick=tick)
        assert result.status == "stopped"
        # the server notices the closed connection a moment later
        [gone] = wait_until(lambda: env.stats.disconnects, "the server to see the close")
    finally:
        gate.open()
    assert gone.tokens_sent <= gate.after_tokens


def test_failed_request_is_recorded_but_not_sent_as_history(env):
    s = _session()
    result = s.start(s.prepare("q", AskOptions(endpoint="does-not-exist"), {}), {}).wait(WAIT)
    assert result.status == "failed" and "does-not-exist" in (result.error or "")
    assert len(s.conversation) == 1
    assert s.conversation.history_messages() == []


SPEC = ('Here you go.\n```json\n{"widget": "chart", "data": "sales", "mark": "bar", '
        '"x": {"field": "%s", "type": "nominal"}, '
        '"y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}\n```\n')


def test_valid_spec_is_rendered_into_extras(env):
    pd = pytest.importorskip("pandas")
    ns = {"sales": pd.DataFrame({"region": ["EU", "US", "EU"], "revenue": [1.0, 2.0, 3.0]})}
    env.script("chart please", SPEC % "region")
    s = _session()
    result = s.start(s.prepare("chart please", AskOptions(frames=["sales"]), ns), ns).wait(WAIT)
    assert result.status == "completed"
    rendered = result.extras["specs"]
    assert len(rendered) == 1 and rendered[0].kind == "chart" and not rendered[0].errors
    assert env.stats.requests == 1 and not result.extras.get("repaired")


def test_invalid_spec_gets_one_repair_turn(env):
    pd = pytest.importorskip("pandas")
    from dbchat_magic.specs import REPAIR_MARKER

    ns = {"sales": pd.DataFrame({"region": ["EU", "US", "EU"], "revenue": [1.0, 2.0, 3.0]})}
    env.script("chart please", SPEC % "regoin")
    env.script(REPAIR_MARKER, SPEC % "region")
    s = _session()
    result = s.start(s.prepare("chart please", AskOptions(frames=["sales"]), ns), ns).wait(WAIT)
    assert env.stats.requests == 2
    repair_msgs = env.stats.last_body["messages"]
    assert repair_msgs[-2]["role"] == "assistant" and REPAIR_MARKER in repair_msgs[-1]["content"]
    assert "regoin" in result.extras["repair"]["errors_before"][0]
    assert result.extras["repaired"] is True
    assert result.extras["specs"][0].kind == "chart"


def test_repair_that_fails_again_shows_the_errors(env):
    pd = pytest.importorskip("pandas")
    from dbchat_magic.specs import REPAIR_MARKER

    ns = {"sales": pd.DataFrame({"region": ["EU"], "revenue": [1.0]})}
    env.script("chart please", SPEC % "regoin")
    env.script(REPAIR_MARKER, SPEC % "still_wrong")
    s = _session()
    result = s.start(s.prepare("chart please", AskOptions(frames=["sales"]), ns), ns).wait(WAIT)
    assert not result.extras.get("repaired")
    assert result.extras["specs"][0].kind == "error" and result.extras["specs"][0].errors
    off = _session(spec_repair=False)
    env.reset_stats()
    off.start(off.prepare("chart please", AskOptions(frames=["sales"]), ns), ns).wait(WAIT)
    assert env.stats.requests == 1


def test_history_holds_the_question_not_the_merged_system_text(env):
    s = _session(system_role=False)
    first = s.prepare("first question", None, {})
    assert [m["role"] for m in first.messages] == ["user"]  # system text merged into the user turn
    s.start(first, {}).wait(WAIT)
    follow = s.prepare("second question", None, {})
    assert follow.messages[0] == {"role": "user", "content": "first question"}
    assert [m["role"] for m in follow.messages] == ["user", "assistant", "user"]


def test_a_block_that_never_parsed_has_no_bundle_and_its_errors_show_once(env):
    from dbchat_magic.ui._settled import SpecOutput, settled_outputs, spec_outputs

    broken = 'Here.\n```json\n{"widget": "chart", "data": sales,, "mark": }\n```\n'
    env.script("broken chart", broken)
    s = _session(spec_repair=False)
    result = s.start(s.prepare("broken chart", None, {}), {}).wait(WAIT)
    assert result.status == "completed"
    (rendered,) = result.extras["specs"]
    assert rendered.kind == "error" and rendered.mimebundle == {}
    assert rendered.errors and rendered.errors[0].startswith("spec: ")
    items = spec_outputs(result)
    assert not any(isinstance(item, SpecOutput) for item in items)  # no second "not shown" text
    lines = [repr(item) for item in settled_outputs(result)]
    for error in rendered.errors:
        assert sum(error in line for line in lines) == 1, lines
    assert not any("not shown" in line for line in lines)
