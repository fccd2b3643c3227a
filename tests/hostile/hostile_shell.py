"""An in-process IPython shell with the extension loaded, pointed at a simulator (hostile tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dbchat_magic.simulator import Simulator


def magic_shell(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Yield an InteractiveShell with ``dbchat_magic`` loaded; conversations are forgotten after."""
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    from dbchat_magic.conversation import _forget_all
    from dbchat_magic.session._pipeline import _sessions

    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    _forget_all()
    _sessions.clear()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dbchat_magic")
    before = set(ip.user_ns)
    yield ip
    ip.run_line_magic("unload_ext", "dbchat_magic")
    for name in set(ip.user_ns) - before:
        ip.user_ns.pop(name, None)
    ip.user_ns.pop("_dbchat_last", None)
    _forget_all()
    _sessions.clear()
