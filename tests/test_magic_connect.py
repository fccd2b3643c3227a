"""``%dbchat connect``, ``%dbchat set``, ``%dbchat config`` for other servers, and the help text
(issue 12 items 1, 4, 6), in an in-process IPython shell over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dbchat_magic.config import Settings, default_path
from dbchat_magic.errors import ConfigError
from dbchat_magic.simulator import LLAMA, Simulator
from openai_server import OpenAIServer, serve

IPython = pytest.importorskip("IPython")
QWEN = "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.fixture
def shell() -> Iterator[Any]:
    """An InteractiveShell with the extension loaded and no credentials at all."""
    from IPython.core.interactiveshell import InteractiveShell

    from dbchat_magic.conversation import _forget_all
    from dbchat_magic.session._pipeline import _sessions

    _forget_all()
    _sessions.clear()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dbchat_magic")
    yield ip
    ip.run_line_magic("unload_ext", "dbchat_magic")
    ip.user_ns.pop("_dbchat_last", None)
    _forget_all()
    _sessions.clear()


def run(ip: Any, code: str) -> Any:
    return ip.run_cell(code, store_history=False)


def test_connect_detects_an_openai_server_and_the_first_question_answers(shell, capsys) -> None:
    for server in serve(OpenAIServer()):
        assert run(shell, f"%dbchat connect {server.url}").error_in_exec is None
        shown = capsys.readouterr().out
        port = server.url.rsplit(":", 1)[1]
        assert f"profile '127.0.0.1-{port}' saved and in use" in shown
        assert f"GET {server.url}/v1/models answered HTTP 200" in shown
        assert f"{server.url}/v1" in shown and QWEN in shown
        assert "no credentials (local server)" in shown
        saved = Settings.load()
        assert (saved.host, saved.url_style, saved.endpoint, saved.auth, saved.profile) == (
            f"{server.url}/v1", "openai", QWEN, "none", f"127.0.0.1-{port}")
        assert run(shell, "%%dbchat --no-history\nhi").error_in_exec is None
        assert shell.user_ns["_dbchat_last"].text == "Hello"
        assert server.paths()[-1] == "POST /v1/chat/completions"
        assert {auth for _, _, auth in server.requests} == {None}
        run(shell, "%dbchat config")
        config = capsys.readouterr().out
        assert "no credentials (local server)" in config and "workspace host" not in config
        assert f"server                 {server.url}/v1" in config
        assert run(shell, f"%dbchat use {QWEN}").error_in_exec is None  # listed, with '/'
        assert run(shell, "%%dbchat -e org/other-model --no-history\nhi").error_in_exec is None
        assert server.bodies[-1]["model"] == "org/other-model"
        res = run(shell, "%dbchat use org/unlisted")
        assert "neither a profile nor a chat endpoint" in str(res.error_in_exec)


def test_connect_to_a_databricks_workspace(shell, capsys, monkeypatch) -> None:
    with Simulator() as sim:
        monkeypatch.setenv("DATABRICKS_TOKEN", sim.token or "")
        assert run(shell, f"%dbchat connect {sim.url} --name ws").error_in_exec is None
        shown = capsys.readouterr().out
        assert "Databricks workspace" in shown and "profile 'ws'" in shown
        assert sim.token not in shown
        saved = Settings.load()
        assert (saved.host, saved.url_style, saved.auth, saved.profile) == (
            sim.url, "databricks", "auto", "ws")
        run(shell, f"%dbchat use {LLAMA}")
        assert run(shell, "%%dbchat --no-history\nhi").error_in_exec is None
        assert shell.user_ns["_dbchat_last"].status == "completed"


def test_connect_with_a_token_variable_never_shows_or_saves_the_token(shell, capsys,
                                                                      monkeypatch) -> None:
    key = "local-key-" + "z" * 20
    for server in serve(OpenAIServer(api_key=key, max_model_len=8192)):
        res = run(shell, f"%dbchat connect {server.url} --token-env MY_LLM_KEY")
        assert "the token variable MY_LLM_KEY (auth env:MY_LLM_KEY) is not set" in \
            str(res.error_in_exec) and "nothing saved" in str(res.error_in_exec)
        assert not default_path().exists()
        monkeypatch.setenv("MY_LLM_KEY", "wrong-key-" + "w" * 12)
        run(shell, f"%dbchat connect {server.url}/v1 --openai --token-env MY_LLM_KEY")
        assert "refused the probe (HTTP 401): check the token in MY_LLM_KEY" in \
            capsys.readouterr().out
        monkeypatch.setenv("MY_LLM_KEY", key)
        run(shell, f"%dbchat connect {server.url}/v1 --token-env MY_LLM_KEY --name mine")
        shown = capsys.readouterr().out
        assert "environment variable MY_LLM_KEY (token never shown)" in shown
        assert "8,192 tokens" in shown  # vLLM's max_model_len
        saved = Settings.load()
        assert (saved.auth, saved.context_tokens, saved.profiles["mine"].auth) == (
            "env:MY_LLM_KEY", 8192, "env:MY_LLM_KEY")
        assert key not in default_path().read_text() and key not in shown
        assert run(shell, "%%dbchat --no-history\nhi").error_in_exec is None
        assert shell.user_ns["_dbchat_last"].status == "completed"
        assert server.requests[-1][2] == f"Bearer {key}"


def test_connect_refuses_bad_arguments_in_one_line(shell) -> None:
    for line, said in (("", "the following arguments are required: url"),
                       ("http://x --token-env A --no-auth", "exclude each other"),
                       ("ftp://x", "URL must be http(s)"),
                       ("http://x --name 'a b'", "--name must be")):
        res = run(shell, f"%dbchat connect {line}")
        assert type(res.error_in_exec).__name__ == "CellError", line
        assert said in str(res.error_in_exec), str(res.error_in_exec)


def test_set_validates_like_settings_json_and_shows_the_result(shell, capsys) -> None:
    assert run(shell, "%dbchat set temperature 0").error_in_exec is None
    assert "temperature = 0.0; saved" in capsys.readouterr().out
    assert Settings.load().temperature == 0.0
    run(shell, "%dbchat set context_tokens 4096")
    assert json.loads(default_path().read_text())["context_tokens"] == 4096
    try:
        Settings().replace(max_tokens="lots")
    except ConfigError as err:
        expected = str(err)
    res = run(shell, "%dbchat set max_tokens lots")
    assert str(res.error_in_exec) == expected
    res = run(shell, "%dbchat set colour blue")
    assert "unknown setting 'colour'" in str(res.error_in_exec)
    res = run(shell, "%dbchat set max_tokens")
    assert "usage: %dbchat set KEY VALUE" in str(res.error_in_exec)
    assert Settings.load().max_tokens == Settings().max_tokens  # nothing lost


def test_help_is_plain_text_with_every_option_command_and_three_examples(shell) -> None:
    from dbchat_magic.magic import DbChatMagics
    from dbchat_magic.magic._commands import _HANDLERS

    cell, line = DbChatMagics.dbchat_cell.__doc__, DbChatMagics.dbchat_line.__doc__
    for text in (cell, line):
        assert "::" not in text and "``" not in text
        assert text.count("\n  1. ") == 1 and "\n  3. " in text
        for command in _HANDLERS:
            assert f"%dbchat {command}" in text, command
    for action in DbChatMagics.dbchat_cell.parser._actions:
        for flag in action.option_strings:
            assert flag in cell or flag == "-h", flag
