"""Hostile magic inputs: out-of-range per-cell options, export over a file, `use` of a typo.

All in an in-process IPython shell against the simulator over loopback HTTP. Each refusal ends the
cell with one short line, sends nothing and saves nothing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_shell import magic_shell

from dbchat_magic.config import Settings, default_path
from dbchat_magic.simulator import CLAUDE, EMBEDDINGS, LLAMA, NOT_READY, Simulator


@pytest.fixture
def shell(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from magic_shell(sim, monkeypatch)


def run(ip: Any, code: str) -> Any:
    return ip.run_cell(code, store_history=False)


def one_line_error(res: Any) -> str:
    err = res.error_in_exec
    assert type(err).__name__ == "CellError", repr(err)
    lines = err._render_traceback_()
    assert len(lines) == 1 and "\n" not in lines[0] and lines[0].startswith("dbchat: ")
    return str(lines[0])


@pytest.mark.parametrize(("option", "expect"), [
    ("-t 99", "-t/--temperature: temperature must be between 0 and 2 (got 99.0)"),
    ("-t -0.1", "-t/--temperature: temperature must be between 0 and 2"),
    ("-t nan", "-t/--temperature: temperature must be a number (got nan)"),
    ("-t inf", "-t/--temperature: temperature must be a number (got inf)"),
    ("-m -5", "-m/--max-tokens: max_tokens must be at least 1 (got -5)"),
    ("-m 0", "-m/--max-tokens: max_tokens must be at least 1 (got 0)"),
    ("-e a/b", "-e/--endpoint: endpoint must be a serving endpoint name without '/'"),
])
@pytest.mark.parametrize("mode", ["", "--background", "--show-prompt"])
def test_out_of_range_options_end_the_cell_and_send_nothing(
        shell: Any, sim: Simulator, capsys: pytest.CaptureFixture[str], option: str, expect: str,
        mode: str) -> None:
    res = run(shell, f"%%dbchat -e {LLAMA} {option} {mode}\nhello")
    message = one_line_error(res)
    assert expect in message and "nothing was sent" in message
    assert sim.stats.requests == 0
    assert "_dbchat_last" not in shell.user_ns
    assert "Prompt for endpoint" not in capsys.readouterr().out


def test_a_non_number_option_is_one_usage_line(shell: Any, sim: Simulator) -> None:
    res = run(shell, f"%%dbchat -e {LLAMA} -m lots\nhello")
    assert type(res.error_in_exec).__name__ == "UsageError"
    assert "invalid int value: 'lots'" in str(res.error_in_exec)
    assert sim.stats.requests == 0


def test_boundary_values_are_sent_as_given(shell: Any, sim: Simulator) -> None:
    res = run(shell, f"%%dbchat -e {LLAMA} -t 2 -m 1\nhello")
    assert res.error_in_exec is None
    assert sim.stats.last_body["temperature"] == 2.0 and sim.stats.last_body["max_tokens"] == 1


def test_a_refused_new_cell_keeps_the_conversation(shell: Any, sim: Simulator) -> None:
    from dbchat_magic.conversation import get_conversation

    run(shell, f"%%dbchat -e {LLAMA}\nfirst question")
    assert len(get_conversation("default")) == 1
    one_line_error(run(shell, f"%%dbchat -e {LLAMA} --new -t 99\nstart over"))
    assert len(get_conversation("default")) == 1


def test_the_awaited_cell_route_validates_the_same_way(shell: Any, sim: Simulator) -> None:
    from dbchat_magic.magic._errors import CellError
    from dbchat_magic.magic.async_cell import run_awaited

    with pytest.raises(CellError, match=r"-m/--max-tokens: max_tokens must be at least 1"):
        asyncio.run(run_awaited(shell, f"-e {LLAMA} -m -5", "hello"))
    assert sim.stats.requests == 0


# -- %dbchat export -----------------------------------------------------------------------------
def test_export_refuses_to_overwrite_without_force(shell: Any, sim: Simulator,
                                                   tmp_path: Path) -> None:
    run(shell, f"%%dbchat -e {LLAMA}\nquestion for the record")
    target = tmp_path / "notes.md"
    target.write_text("my own notes\n", encoding="utf-8")
    message = one_line_error(run(shell, f"%dbchat export {target}"))
    assert "already exists" in message and "--force" in message
    assert target.read_text(encoding="utf-8") == "my own notes\n"
    assert run(shell, f"%dbchat export {target} --force").error_in_exec is None
    assert "question for the record" in target.read_text(encoding="utf-8")


def test_export_to_a_new_file_and_to_a_directory(shell: Any, sim: Simulator,
                                                 tmp_path: Path) -> None:
    run(shell, f"%%dbchat -e {LLAMA}\nquestion for the record")
    fresh = tmp_path / "chat.json"
    assert run(shell, f"%dbchat export {fresh}").error_in_exec is None
    assert json.loads(fresh.read_text())["turns"][0]["question"] == "question for the record"
    message = one_line_error(run(shell, f"%dbchat export {tmp_path} --force"))
    assert "could not write" in message


# -- %dbchat use ---------------------------------------------------------------------------------
def test_use_of_a_typo_is_refused_with_near_names_and_saves_nothing(
        shell: Any, sim: Simulator) -> None:
    typo = LLAMA.replace("llama", "lama")
    message = one_line_error(run(shell, f"%dbchat use {typo}"))
    assert f"{typo!r} is neither a profile nor a chat endpoint" in message
    assert f"did you mean {LLAMA}" in message and "nothing saved" in message
    assert not default_path().exists()


def test_use_of_an_unrelated_name_points_to_the_list(shell: Any, sim: Simulator) -> None:
    Settings().replace(endpoint=CLAUDE).save()
    message = one_line_error(run(shell, "%dbchat use zzzz"))
    assert "`%dbchat endpoints` lists the chat endpoints" in message
    assert Settings.load().endpoint == CLAUDE


def test_use_of_an_embedding_endpoint_is_refused(shell: Any, sim: Simulator) -> None:
    assert EMBEDDINGS in sim.endpoints
    message = one_line_error(run(shell, f"%dbchat use {EMBEDDINGS}"))
    assert "neither a profile nor a chat endpoint" in message
    assert not default_path().exists()


def test_use_of_listed_names_and_profiles_is_saved(shell: Any, sim: Simulator,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    Settings().with_profile("fast", CLAUDE).save()
    for name, endpoint in ((NOT_READY, NOT_READY), ("fast", CLAUDE), (LLAMA, LLAMA)):
        assert run(shell, f"%dbchat use {name}").error_in_exec is None
        assert Settings.load().endpoint == endpoint
    out = capsys.readouterr().out
    assert "saved" in out and "note:" not in out


def test_use_is_accepted_with_a_note_when_the_list_is_refused(
        shell: Any, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", "not-the-simulator-token")
    assert run(shell, "%dbchat use my-private-endpoint").error_in_exec is None
    assert Settings.load().endpoint == "my-private-endpoint"
    out = capsys.readouterr().out
    assert "note: 'my-private-endpoint' was not checked" in out and "HTTP 403" in out


def test_use_is_accepted_with_a_note_when_nothing_listens(
        shell: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{port}")
    assert run(shell, "%dbchat use offline-endpoint").error_in_exec is None
    assert Settings.load().endpoint == "offline-endpoint"
    assert "could not be read" in capsys.readouterr().out


def test_use_gives_up_on_a_silent_server_and_closes_the_request(
        shell: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from dbchat_magic.magic import _commands as commands

    closed = threading.Event()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def hold() -> None:  # accept, read, never answer; report when the client hangs up
            conn, _ = server.accept()
            with conn:
                conn.settimeout(30)
                while conn.recv(4096):
                    pass
                closed.set()

        threading.Thread(target=hold, daemon=True).start()
        monkeypatch.setenv("DATABRICKS_HOST", f"http://127.0.0.1:{server.getsockname()[1]}")
        monkeypatch.setattr(commands, "_USE_CHECK_TIMEOUT", 0.5)
        assert run(shell, "%dbchat use quiet-endpoint").error_in_exec is None
        assert closed.wait(30), "the abandoned list request was never closed"
    assert Settings.load().endpoint == "quiet-endpoint"
    assert "did not arrive within 0.5 s" in capsys.readouterr().out


def test_use_of_a_slash_name_is_refused_before_any_request(shell: Any, sim: Simulator) -> None:
    message = one_line_error(run(shell, "%dbchat use ../../etc"))
    assert "without '/'" in message
    assert sim.stats.requests == 0 and not default_path().exists()
