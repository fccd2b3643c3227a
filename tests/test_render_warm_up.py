"""`%load_ext` starts the chart render worker in the background and warms the kernel side after
the loading cell has finished (the load itself imports nothing heavy: see test_magic)."""

from __future__ import annotations

import time

from dbchat_magic.session import _warm_up
from dbchat_magic.specs._worker import shared_worker


def _callbacks(ip) -> list:
    return [cb for cb in ip.events.callbacks["post_run_cell"]
            if isinstance(cb, _warm_up._WarmAfterCell)]


def test_load_ext_starts_the_worker_and_warms_after_the_loading_cell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dbchat_magic")
    try:
        assert len(_callbacks(ip)) == 1
        deadline = time.monotonic() + 120
        while shared_worker().pid is None:
            assert time.monotonic() < deadline, "the render worker never started"
            time.sleep(0.05)
        ip.run_cell("1 + 1", store_history=False)
        assert _callbacks(ip) == [] and _warm_up._warm_started.is_set()
    finally:
        ip.run_line_magic("unload_ext", "dbchat_magic")


def test_unload_removes_the_warm_up_callback():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dbchat_magic")
    ip.run_line_magic("unload_ext", "dbchat_magic")
    assert _callbacks(ip) == []
