"""The render worker process: a crash, a render past the time limit or the memory limit is killed
and reported in one line, the next chart works again, and the worker never outlives its parent.

The test-only ops ("abort", "hang", "grow") exist only in a worker started with
``DBCHAT_RENDER_WORKER_TEST=1``. Nothing here depends on timing: a hang never ends by itself and a
grow never stops growing, so the only way out is the limit under test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from dbchat_magic.specs import _worker as worker_mod
from dbchat_magic.specs import render_spec
from dbchat_magic.specs._render import VEGALITE_V5, chart_bundle
from dbchat_magic.specs._render_worker import TEST_HOOKS_ENV
from dbchat_magic.specs._worker import (
    CRASHED,
    RenderError,
    RendererUnavailable,
    RenderFailed,
    RenderWorker,
)

SPEC = {"mark": "bar", "data": {"values": [{"k": "a", "v": 1}, {"k": "b", "v": 2}]},
        "encoding": {"x": {"field": "k", "type": "nominal"},
                     "y": {"field": "v", "type": "quantitative"}}}
WAIT_S = 120.0


def titled(title: str) -> dict:
    return {**SPEC, "title": title}


@pytest.fixture
def make_worker() -> Iterator:
    made: list[RenderWorker] = []

    def make(**kw: object) -> RenderWorker:
        w = RenderWorker(env={TEST_HOOKS_ENV: "1"}, **kw)  # type: ignore[arg-type]
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (and been reaped, or is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_until(check, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def test_a_real_renderer_panic_is_reported_and_the_next_chart_works(make_worker):
    w = make_worker()
    assert "<svg" in w.svg(SPEC)
    first = w.pid
    with pytest.raises(RenderFailed) as err:
        w.svg(titled("a\x01b"))  # uncleaned: vl-convert panics and aborts its process
    assert str(err.value) == CRASHED
    assert first is not None and gone(first)
    assert "Total" in w.svg(titled("Total"))
    assert w.starts == 2 and w.pid != first


def test_an_abort_is_reported_and_the_worker_restarts(make_worker):
    w = make_worker()
    with pytest.raises(RenderFailed, match=r"^the chart could not be drawn \(renderer crashed\)"):
        w.request("abort")
    assert "<svg" in w.svg(SPEC) and w.starts == 2


def test_kill_9_mid_render_is_a_crash(make_worker):
    w = make_worker(time_limit=600)
    w.start()
    pid = w.pid
    outcome: list[BaseException] = []

    def hang() -> None:
        try:
            w.request("hang")
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=hang)
    t.start()
    proc = w._process
    wait_until(lambda: proc is not None and "test hook: hang" in proc.stderr_tail,
               "the worker started the render")
    os.kill(pid, signal.SIGKILL)
    t.join(WAIT_S)
    assert len(outcome) == 1 and isinstance(outcome[0], RenderFailed)
    assert str(outcome[0]) == CRASHED
    assert "<svg" in w.svg(SPEC) and w.pid != pid


def test_a_render_over_the_time_limit_is_killed_and_reported(make_worker):
    w = make_worker(time_limit=1.5)
    w.start()
    pid = w.pid
    with pytest.raises(RenderFailed) as err:
        w.request("hang")
    assert str(err.value) == ("the chart could not be drawn (renderer took longer than 1.5 s); "
                              "the answer is kept")
    assert pid is not None and gone(pid)
    assert "<svg" in w.svg(SPEC)


def test_a_render_over_the_memory_limit_is_killed_and_reported(make_worker):
    w = make_worker(memory_limit_mb=600, time_limit=600)
    w.start()
    pid = w.pid
    with pytest.raises(RenderFailed) as err:
        w.request("grow")
    assert str(err.value) == ("the chart could not be drawn (renderer used over 600 MB of "
                              "memory); the answer is kept")
    assert pid is not None and gone(pid)
    assert "<svg" in w.svg(SPEC)


def test_a_spec_vl_convert_rejects_is_an_error_not_a_crash(make_worker):
    w = make_worker()
    w.start()
    pid = w.pid
    bad = {**SPEC, "encoding": {"x": {"field": "a\nb"}}, "data": {"values": [{"a\nb": 1}]}}
    with pytest.raises(RenderError, match="Vega-Lite to SVG conversion failed"):
        w.svg(bad)
    assert w.pid == pid  # the same worker serves on


def test_concurrent_renders_from_many_threads_get_their_own_charts(make_worker):
    w = make_worker()
    results: dict[str, str] = {}

    def render(name: str) -> None:
        for i in range(3):
            results[f"{name}-{i}"] = w.svg(titled(f"chart {name}-{i}"))

    threads = [threading.Thread(target=render, args=(n,)) for n in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert len(results) == 12
    for key, svg in results.items():
        assert f"chart {key}" in svg and sum(f"chart {k}" in svg for k in results) == 1
    assert w.starts == 1


def test_a_worker_that_cannot_start_is_reported(make_worker, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    w = make_worker()
    with pytest.raises(RendererUnavailable, match="the renderer process could not start"):
        w.svg(SPEC)


def test_without_vl_convert_the_worker_says_so_once(make_worker, monkeypatch, tmp_path: Path):
    (tmp_path / "vl_convert.py").write_text("raise ImportError('no engine here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the worker gets the kernel's import path
    w = make_worker()
    for _ in range(2):
        with pytest.raises(RendererUnavailable, match=r"^vl-convert-python is not installed$"):
            w.svg(SPEC)
    assert w.starts == 1  # not retried for every chart


def test_chart_bundle_falls_back_to_the_vega_lite_mimetype(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    monkeypatch.setattr(worker_mod, "_shared", RenderWorker())
    bundle, notes = chart_bundle(SPEC, "svg", "alt")
    assert set(bundle) == {"text/plain", VEGALITE_V5}
    assert bundle[VEGALITE_V5]["$schema"].endswith("/v5.json")
    assert notes[0].startswith("The chart renderer is unavailable (the renderer process could "
                               "not start")


def test_render_spec_reports_a_crash_and_keeps_going(monkeypatch):
    import dbchat_magic.specs._textclean as textclean

    frame = pd.DataFrame({"region": ["EU", "US"], "revenue": [1.0, 2.0]})
    spec = {"widget": "chart", "data": "df", "mark": "bar", "title": "a\x01b",
            "x": {"field": "region", "type": "nominal"},
            "y": {"field": "revenue", "type": "quantitative", "aggregate": "sum"}}
    monkeypatch.setattr(textclean, "clean_tree", lambda tree: tree)  # let the panic through
    crashed = render_spec(spec, {"df": frame})
    assert crashed.kind == "error" and crashed.errors == [CRASHED] and crashed.mimebundle == {}
    assert crashed.draw_failed  # the live pass keeps it: the final pass does not crash again
    assert not render_spec({**spec, "mark": "pie"}, {"df": frame}).draw_failed
    monkeypatch.undo()
    again = render_spec(spec, {"df": frame})
    assert again.ok and "a\ufffdb" in again.mimebundle["image/svg+xml"]


def test_the_worker_exits_when_stdin_closes(make_worker):
    w = make_worker()
    w.start()
    proc = w._process.proc
    w.close()
    assert proc.returncode == 0 and w.pid is None


def test_the_worker_never_outlives_its_parent(tmp_path: Path):
    code = textwrap.dedent("""
        import os, sys
        from dbchat_magic.specs._worker import RenderWorker
        w = RenderWorker()
        w.start()
        print(w.pid, flush=True)
        os._exit(0)  # a kernel that dies without any clean-up
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=WAIT_S, check=True).stdout
    pid = int(out.split()[0])
    wait_until(lambda: gone(pid), f"worker {pid} exited after its parent")
