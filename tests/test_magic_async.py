"""The async-cell rewrite (a Stop button in blocking cells on ipykernel ≥ 7.4), stop detection."""

from __future__ import annotations

import ast
from types import SimpleNamespace

import pytest

from dbchat_magic.magic import _stop as stop
from dbchat_magic.magic import async_cell
from dbchat_magic.magic.async_cell import rewrite_cell


def test_rewrite_turns_a_dbchat_cell_into_one_awaited_call():
    out = rewrite_cell(["%%dbchat -e ep -o r\n", "What is {x}?\n", "second line\n"])
    assert len(out) == 1 and out[0].startswith("await __import__('dbchat_magic.magic.async_cell'")
    args = ast.parse(out[0].replace("await ", "", 1)).body[0].value.args  # type: ignore[attr-defined]
    assert ast.literal_eval(args[1]) == "-e ep -o r"
    assert ast.literal_eval(args[2]) == "What is {x}?\nsecond line\n"


@pytest.mark.parametrize("lines", [
    ["print(1)\n"],
    ["%%dbchat?\n"],
    ["%%dbchatter\n", "x\n"],
    ["%%dbchat --background\n", "q\n"],
    ["%%dbchat --show-prompt\n", "q\n"],
    ["%%dbchat -h\n"],
    ["%%capture out\n", "%%dbchat\n", "q\n"],
    [],
])
def test_other_cells_are_left_alone(lines):
    assert rewrite_cell(list(lines)) == lines


def test_rewrite_is_safe_for_quotes_and_backslashes():
    body = "it's \"quoted\" and a \\ backslash ''' and \"\"\"\n"
    out = rewrite_cell(["%%dbchat -p 'my persona'\n", body])
    args = ast.parse(out[0].replace("await ", "", 1)).body[0].value.args  # type: ignore[attr-defined]
    assert ast.literal_eval(args[1]) == "-p 'my persona'"
    assert ast.literal_eval(args[2]) == body


def _shell(*, kernel: bool = True, autoawait: bool = True) -> SimpleNamespace:
    from IPython.core.async_helpers import _asyncio_runner

    return SimpleNamespace(kernel=object() if kernel else None, autoawait=autoawait,
                           loop_runner=_asyncio_runner, input_transformers_cleanup=[])


def test_async_clicks_need_a_kernel_with_autoawait_and_new_ipykernel(monkeypatch):
    monkeypatch.setattr(stop, "ipykernel_version", lambda: (7, 4, 0))
    assert stop.async_clicks_supported(_shell())
    assert not stop.async_clicks_supported(_shell(kernel=False))  # terminal IPython
    assert not stop.async_clicks_supported(_shell(autoawait=False))
    assert not stop.async_clicks_supported(None)
    monkeypatch.setattr(stop, "ipykernel_version", lambda: (7, 3, 2))
    assert not stop.async_clicks_supported(_shell())
    monkeypatch.setattr(stop, "ipykernel_version", lambda: (6, 29, 5))
    assert not stop.async_clicks_supported(_shell())


def test_install_is_guarded_and_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(stop, "ipykernel_version", lambda: (7, 4, 0))
    monkeypatch.setattr(async_cell, "async_clicks_supported", stop.async_clicks_supported)
    sh = _shell()
    assert async_cell.install(sh) and sh.input_transformers_cleanup == [rewrite_cell]
    assert async_cell.install(sh) and sh.input_transformers_cleanup == [rewrite_cell]  # once
    async_cell.uninstall(sh)
    assert sh.input_transformers_cleanup == []
    monkeypatch.setenv("DBCHAT_STOP_BUTTON", "0")
    assert not async_cell.install(sh) and sh.input_transformers_cleanup == []
    monkeypatch.delenv("DBCHAT_STOP_BUTTON")
    monkeypatch.setattr(stop, "ipykernel_version", lambda: (6, 29, 5))
    assert not async_cell.install(sh)


def test_stop_mode():
    assert stop.stop_mode(background=True, awaited=False) == "button"
    assert stop.stop_mode(background=False, awaited=True) == "button"
    assert stop.stop_mode(background=False, awaited=False) == "hint"


def test_installed_version_is_read():
    version = stop.ipykernel_version()
    assert version is not None and version >= (6,)


def test_no_rewrite_after_autoawait_off(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(autoawait=False))
    lines = ["%%dbchat\n", "q\n"]
    assert rewrite_cell(list(lines)) == lines
    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(autoawait=True))
    assert rewrite_cell(list(lines)) != lines
