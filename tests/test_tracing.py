"""MLflow traces of answers, against a local MLflow tracking store (sqlite backend)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dbchat_magic import tracing
from dbchat_magic.config import Settings
from dbchat_magic.conversation import Conversation
from dbchat_magic.session import AskOptions, Session, prepare_compare, start_compare
from dbchat_magic.simulator import CLAUDE, LLAMA

mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed (extra: mlflow)")
pytest.importorskip("sqlalchemy", reason="the sqlite tracking store needs sqlalchemy")


class Store:
    """The module's sqlite tracking store (made once: MLflow's schema takes long to create);
    `new_traces` returns the traces logged since the last call."""

    def __init__(self, uri: str) -> None:
        self.client = mlflow.MlflowClient(uri)
        self.seen: set[str] = set()

    def new_traces(self) -> list[Any]:
        assert tracing.flush(300)
        found = self.client.search_traces(locations=["0"], max_results=500)
        fresh = [t for t in found if t.info.trace_id not in self.seen]
        self.seen.update(t.info.trace_id for t in found)
        return fresh


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    where = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{where / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    store = Store(uri)
    with pytest.MonkeyPatch.context() as mp:  # the default experiment keeps artifacts in ./mlruns
        mp.chdir(where)
        store.client.get_experiment("0")  # creates the database (and its experiment) here
    return store


@pytest.fixture
def store(module_store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The tracking store in the environment; tracing state reset around the test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(module_store.client.tracking_uri))
    mlflow.set_tracking_uri(module_store.client.tracking_uri)
    tracing._state.update(off=False, notes=[])
    module_store.new_traces()
    yield module_store
    tracing._state.update(off=False, notes=[])


def _session(mode: str = "on") -> Session:
    settings = Settings(endpoint=LLAMA, tracing=mode)
    return Session(Conversation("traced"), settings=lambda: settings)


def _span(trace: Any, span_type: str = "CHAT_MODEL") -> Any:
    return next(s for s in trace.data.spans if s.span_type == span_type)


def test_auto_mode_needs_a_tracking_uri(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert not tracing.tracing_enabled("auto")
    assert tracing.tracing_enabled("auto", {"MLFLOW_TRACKING_URI": "sqlite:///x.db"})
    assert tracing.tracing_enabled("on") and not tracing.tracing_enabled("off")


def test_an_answer_is_a_chat_model_trace_with_usage_times_and_chunks(env, store):
    s = _session()
    result = s.start(s.prepare("trace me", None, {}), {}).wait(30)
    assert result.status == "completed"
    (trace,) = store.new_traces()
    span = _span(trace)
    assert span.inputs["messages"][-1]["content"].endswith("trace me")
    assert span.outputs == result.text
    usage = span.attributes["mlflow.chat.tokenUsage"]
    assert usage == {"input_tokens": result.usage.prompt_tokens,
                     "output_tokens": result.usage.completion_tokens,
                     "total_tokens": result.usage.total_tokens}
    assert span.attributes["endpoint"] == LLAMA and span.attributes["status"] == "completed"
    assert span.attributes["dbchat.first_token_s"] == result.metrics.time_to_first_token
    assert span.attributes["dbchat.total_s"] == result.metrics.total_time
    chunks = [e for e in span.events if e.name == "chunk"]
    assert 0 < len(chunks) <= tracing.MAX_CHUNK_EVENTS
    assert "".join(e.attributes["text"] for e in chunks) == result.text  # 60 tokens: all kept
    assert trace.info.state == "OK"


def test_failed_and_stopped_answers_are_traced_with_their_status(env, store):
    s = _session()
    env.inject("400")
    failed = s.start(s.prepare("fail", AskOptions(), {}), {}).wait(60)
    env.clear_faults()
    env.inject("slow_first_token", delay=30)
    handle = s.start(s.prepare("stop", AskOptions(), {}), {})
    handle.cancel()
    stopped = handle.wait(30)
    env.clear_faults()
    assert (failed.status, stopped.status) == ("failed", "stopped")
    spans = {_span(t).attributes["status"]: _span(t) for t in store.new_traces()}
    assert set(spans) == {"failed", "stopped"}
    assert spans["failed"].attributes["error"] == failed.error
    assert spans["failed"].status.status_code == "ERROR"


def test_compare_is_one_parent_with_a_chat_model_child_per_endpoint(env, store):
    s = _session()
    run = start_compare(s, prepare_compare(s, "both", [LLAMA, CLAUDE], AskOptions(), {}), {})
    run.finish()
    (trace,) = store.new_traces()
    parent = _span(trace, "CHAIN")
    children = [sp for sp in trace.data.spans if sp.span_type == "CHAT_MODEL"]
    assert sorted(c.attributes["endpoint"] for c in children) == sorted([LLAMA, CLAUDE])
    assert all(c.parent_id == parent.span_id for c in children)


def test_a_compare_told_when_done_ends_its_parent_itself(env, store):
    """The panel's compare mode: ``on_done`` gets every result; the parent ends without
    `CompareRun.finish` (which then ends nothing a second time)."""
    import threading

    s = _session()
    got: list[Any] = []
    ended = threading.Event()
    run = start_compare(s, prepare_compare(s, "both, told", [LLAMA, CLAUDE], AskOptions(), {}),
                        {}, on_done=lambda r: (got.append(r), ended.set()))
    assert ended.wait(60)
    (result,) = got
    assert [r.endpoint for r in result] == [LLAMA, CLAUDE]
    assert all(r.status == "completed" for r in result)
    run.finish()
    (trace,) = store.new_traces()
    parent = _span(trace, "CHAIN")
    children = [sp for sp in trace.data.spans if sp.span_type == "CHAT_MODEL"]
    assert len(children) == 2 and all(c.parent_id == parent.span_id for c in children)


def test_a_broken_tracking_store_is_one_note_and_never_breaks_the_answer(env, tmp_path,
                                                                        monkeypatch):
    bad = tmp_path / "not-a-dir"
    bad.write_text("x")
    uri = f"sqlite:///{bad / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    tracing._state.update(off=False, notes=[])
    try:
        s = _session()
        first = s.start(s.prepare("one", None, {}), {}).wait(30)
        tracing.flush(300)
        second = s.start(s.prepare("two", None, {}), {}).wait(30)
        assert first.status == second.status == "completed"
        notes = [*(first.extras.get("session_notes") or []),
                 *(second.extras.get("session_notes") or [])]
        assert len([n for n in notes if "MLflow tracing is off" in n]) == 1, json.dumps(notes)
    finally:
        tracing._state.update(off=False, notes=[])
