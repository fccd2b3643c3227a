"""Credentials stay out of everything shown, stored, logged and sent: hosts with user info are
refused at every entry point, known credentials are redacted from prompts and recorded questions,
and httpx/httpcore log records (DEBUG included) are scrubbed. Real loopback HTTP to the
simulator."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import Iterator

import pytest

from client_helpers import ask
from dbchat_magic.auth import REDACTED, ScrubFilter, Secret, redact, resolve_credentials
from dbchat_magic.client import ChatClient
from dbchat_magic.config import Profile, Settings
from dbchat_magic.conversation import Conversation
from dbchat_magic.errors import ConfigError, DbChatError
from dbchat_magic.prompts import compose
from dbchat_magic.session import Session
from dbchat_magic.simulator import LLAMA, Simulator


def _token() -> str:
    return "dapi" + secrets.token_hex(16)  # made at run time: no token-shaped literal


@pytest.fixture
def token() -> str:
    return _token()


@pytest.fixture
def planted(token: str) -> Iterator[Simulator]:
    with Simulator(token=token) as s:
        yield s


def _userinfo_hosts(sim_url: str, token: str) -> list[str]:
    bare = sim_url.removeprefix("http://")
    return [f"http://token:{token}@{bare}", f"http://{token}@{bare}", f"{token}@{bare}",
            f"https://user:{token}@adb-1.azuredatabricks.net/", f"user@{bare}"]


def _assert_refused(err: BaseException, token: str) -> None:
    text = f"{err} {err!r}"
    assert "must not hold user info" in text
    assert token not in text and token[4:20] not in text and "token:" not in text
    assert "user@" not in text


# -- a host with user info is refused wherever a host enters -------------------------------------

def test_settings_host_with_user_info_is_refused(planted: Simulator, token: str) -> None:
    for host in _userinfo_hosts(planted.url, token):
        with pytest.raises(ConfigError) as info:
            Settings(host=host)
        _assert_refused(info.value, token)
        with pytest.raises(ConfigError) as info:
            Settings().replace(host=host)
        _assert_refused(info.value, token)
    assert planted.stats.requests == 0


def test_the_refusal_names_the_host_to_use_instead(token: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings(host=f"https://token:{token}@adb-7.azuredatabricks.net/path")
    assert "host must not hold user info" in str(info.value)
    assert "e.g. https://adb-7.azuredatabricks.net" in str(info.value)


def test_profile_hosts_with_user_info_are_refused(token: str, tmp_path) -> None:
    host = f"https://x:{token}@adb-1.net"
    with pytest.raises(ConfigError) as info:
        Profile(endpoint=LLAMA, host=host)
    _assert_refused(info.value, token)
    with pytest.raises(ConfigError) as info:
        Settings().with_profile("ab", LLAMA, host=host)
    _assert_refused(info.value, token)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"profiles": {"ab": {"endpoint": LLAMA, "host": host}}}))
    with pytest.raises(ConfigError) as info:
        Settings.load(path)
    _assert_refused(info.value, token)
    assert "profiles.ab: profile host" in str(info.value)


def test_a_settings_file_host_with_user_info_is_refused(token: str, tmp_path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"host": f"https://me:{token}@adb-1.net"}))
    with pytest.raises(ConfigError) as info:
        Settings.load(path)
    _assert_refused(info.value, token)
    assert str(path) in str(info.value)


def test_databricks_host_with_user_info_is_refused_and_nothing_is_sent(
        planted: Simulator, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for host in _userinfo_hosts(planted.url, token):
        monkeypatch.setenv("DATABRICKS_HOST", host)
        monkeypatch.setenv("DATABRICKS_TOKEN", token)
        with pytest.raises(ConfigError) as info:
            resolve_credentials(Settings())
        _assert_refused(info.value, token)
        assert "DATABRICKS_HOST must not hold user info" in str(info.value)
        with pytest.raises(ConfigError) as info:
            ChatClient(Settings())
        _assert_refused(info.value, token)
    assert planted.stats.requests == 0


def test_a_databrickscfg_host_with_user_info_is_refused(
        planted: Simulator, token: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "databrickscfg"
    bare = planted.url.removeprefix("http://")
    cfg.write_text(f"[DEFAULT]\nhost = http://token:{token}@{bare}\ntoken = {token}\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    with pytest.raises(ConfigError) as info:
        resolve_credentials(Settings())
    _assert_refused(info.value, token)
    assert "profile [DEFAULT]" in str(info.value)
    assert planted.stats.requests == 0


def test_host_arguments_with_user_info_are_refused_and_nothing_is_sent(
        planted: Simulator, token: str) -> None:
    for host in _userinfo_hosts(planted.url, token):
        with pytest.raises(ConfigError) as info:
            resolve_credentials(Settings(), token=token, host=host)
        _assert_refused(info.value, token)
        with pytest.raises(ConfigError) as info:
            ChatClient(Settings(), token=token, host=host)
        _assert_refused(info.value, token)
    assert planted.stats.requests == 0  # no Basic-auth request ever went out


def test_dbchat_config_shows_no_user_info(planted: Simulator, token: str, capsys,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    bare = planted.url.removeprefix("http://")
    monkeypatch.setenv("DATABRICKS_HOST", f"http://token:{token}@{bare}")
    monkeypatch.setenv("DATABRICKS_TOKEN", token)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "dbchat_magic")
    try:
        capsys.readouterr()
        ip.run_line_magic("dbchat", "config")
        out = capsys.readouterr()
    finally:
        ip.run_line_magic("unload_ext", "dbchat_magic")
    shown = out.out + out.err
    assert "DATABRICKS_HOST must not hold user info" in shown
    assert token not in shown and token[4:20] not in shown


def test_a_panel_with_a_user_info_host_keeps_it_out_of_widget_state(
        planted: Simulator, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ipywidgets")
    from dbchat_magic.ui import ChatPanel
    from ui_helpers import all_state

    bare = planted.url.removeprefix("http://")
    monkeypatch.setenv("DATABRICKS_HOST", f"http://token:{token}@{bare}")
    monkeypatch.setenv("DATABRICKS_TOKEN", token)
    Settings().replace(endpoint=LLAMA).save()
    panel = ChatPanel(namespace={})
    panel.ask("hello")
    panel.wait(60)
    state = all_state(panel.widget)
    assert "user info" in state  # the refusal is shown…
    assert token not in state and token[4:20] not in state  # …the token is not
    assert planted.stats.requests == 0


# -- known credentials are redacted from what is sent and recorded -------------------------------

def test_a_known_secret_in_the_question_is_never_sent_or_recorded(
        planted: Simulator, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in planted.env().items():
        monkeypatch.setenv(key, value)
    conv = Conversation("secrets")
    session = Session(conv, settings=lambda: Settings(endpoint=LLAMA))
    prepared = session.prepare(f"why does {token} fail? and again {token}", None, {})
    assert token not in json.dumps(prepared.messages) and token not in prepared.question
    assert prepared.question == f"why does {REDACTED} fail? and again {REDACTED}"
    assert prepared.notes and "2 credentials" in prepared.notes[0]
    result = session.ask_blocking(prepared, {})
    assert result.status == "completed"
    assert result.extras["prompt_notes"] == prepared.notes  # for the view
    assert token not in json.dumps(planted.stats.last_body)  # not on the wire
    exported = conv.to_json() + conv.to_markdown() + repr(conv.turns)
    assert token not in exported and REDACTED in exported


def test_a_panel_shows_the_question_redacted(planted: Simulator, token: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ipywidgets")
    from dbchat_magic.ui import ChatPanel
    from ui_helpers import all_state

    for key, value in planted.env().items():
        monkeypatch.setenv(key, value)
    Settings().replace(endpoint=LLAMA).save()
    panel = ChatPanel(list_endpoints=False, namespace={})
    panel.ask(f"is {token} still valid?")
    panel.wait(60)
    state = all_state(panel.widget)
    assert f"is {REDACTED} still valid?" in state
    assert token not in state and token not in json.dumps(planted.stats.last_body)


def test_environment_credentials_are_redacted_before_any_client_exists(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`{os.environ}` interpolated into a question: no token leaves, even one no Secret holds."""
    values = {"DATABRICKS_TOKEN": _token(),
              "DATABRICKS_CLIENT_SECRET": "cs-" + secrets.token_hex(12),
              "OPENAI_API_KEY": "ok-" + secrets.token_hex(12),
              "ACME_SERVICE_TOKEN": "acme-" + secrets.token_hex(10)}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    question = f"explain my environment: {dict(os.environ)}"
    composed = compose(question, namespace={}, frames=[])
    sent = json.dumps(composed.messages) + composed.question + composed.show()
    for value in values.values():
        assert value not in sent
    assert composed.notes and REDACTED in composed.question


def test_short_or_plain_environment_values_are_left_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_TOKEN", "true")  # too short to be a credential
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "falsefalse")  # not a credential name
    composed = compose("is it true? falsefalse", namespace={}, frames=[])
    assert composed.question == "is it true? falsefalse" and composed.notes == []


def test_a_token_in_a_dataframe_cell_is_redacted_in_the_data_context() -> None:
    pd = pytest.importorskip("pandas")
    leaked = _token()
    frame = pd.DataFrame({"note": ["fine", f"key={leaked}"], "n": [1, 2]})
    composed = compose("summarise notes", namespace={"notes": frame}, frames=["notes"])
    system = composed.messages[0]["content"]
    assert leaked not in system and REDACTED in system and "notes" in system
    assert composed.notes


def test_a_credential_in_earlier_history_is_redacted(token: str) -> None:
    Secret(token)
    history = [{"role": "user", "content": f"my token is {token}"},
               {"role": "assistant", "content": f"do not share {token}"}]
    composed = compose("and now?", namespace={}, frames=[], history=history)
    assert token not in json.dumps(composed.messages)
    assert "2 credentials" in composed.notes[0]


def test_show_prompt_shows_the_redacted_text_and_the_note(token: str) -> None:
    from dbchat_magic.magic._cell import format_prompt

    Secret(token)
    session = Session(Conversation("show"), settings=lambda: Settings(endpoint=LLAMA))
    shown = format_prompt(session.prepare(f"use {token} please", None, {}))
    assert token not in shown
    assert f"use {REDACTED} please" in shown and "Note: a credential" in shown


def test_redact_counts_and_keeps_ordinary_text(token: str) -> None:
    Secret(token)
    assert redact("nothing secret here") == ("nothing secret here", 0)
    assert redact(f"a {token} b {token}") == (f"a {REDACTED} b {REDACTED}", 2)
    other = "dapi" + secrets.token_hex(16)  # a token shape no Secret holds
    assert redact(f"x {other}") == (f"x {REDACTED}", 1)


# -- httpx / httpcore log records are scrubbed ---------------------------------------------------

@pytest.mark.parametrize("bare", [False, True])
def test_debug_logs_of_a_real_request_hold_no_token(planted: Simulator, token: str, bare: bool,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """The server echoes the token in a response header; httpcore logs headers raw at DEBUG."""
    planted.inject("header_echo", header="X-Echo-Token", bare=bare)
    client = ChatClient(Settings(host=planted.url), token=token)
    with caplog.at_level(logging.DEBUG):
        r = ask(client)
    assert r.status == "completed"
    names = {rec.name for rec in caplog.records}
    assert {"httpx", "httpcore.http11", "httpcore.connection"} <= names  # the logs were on
    assert "X-Echo-Token" in caplog.text  # the echoing header itself was logged…
    assert token not in caplog.text and token[4:20] not in caplog.text  # …scrubbed
    for rec in caplog.records:
        assert token not in rec.getMessage()


def test_every_httpcore_child_logger_gets_the_filter(planted: Simulator, token: str) -> None:
    ChatClient(Settings(host=planted.url), token=token)
    for name in ("httpx", "httpcore", "httpcore.http11", "httpcore.connection",
                 "httpcore.http2", "httpcore.proxy"):
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, ScrubFilter) for f in filters) == 1, name


def test_header_tuples_in_record_args_are_scrubbed(planted: Simulator, token: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    ChatClient(Settings(host=planted.url), token=token)
    log = logging.getLogger("httpcore.http11")
    raw = "raw" + secrets.token_hex(8)  # an Authorization value no Secret holds
    headers = [(b"Authorization", f"Bearer {token}".encode()), (b"authorization", raw.encode())]
    with caplog.at_level(logging.DEBUG, logger="httpcore"):
        log.debug("receive_response_headers.complete return_value=%r", (b"HTTP/1.1", 200, headers))
        log.debug("bad format %s %s", token)  # arguments that do not fit: no crash, still scrubbed
        try:
            raise RuntimeError(f"failed with {token}")
        except RuntimeError:
            log.exception("boom")
    assert len(caplog.records) == 3
    assert token not in caplog.text and raw not in caplog.text
    assert "b'authorization', b'****'" in caplog.text


def test_error_messages_and_reprs_hold_no_token(planted: Simulator, token: str) -> None:
    client = ChatClient(Settings(host=planted.url, max_retries=0), token=token)
    planted.inject("403", message=f"token {token} is not allowed")
    r = ask(client)
    shown = [repr(client), r.error or "", repr(r)]
    assert r.status == "failed" and "****" in r.error
    for text in shown:
        assert token not in text

    async def raising() -> None:
        planted.inject("500", message=f"bad Authorization: Bearer {token}")
        async for _ in client.stream([{"role": "user", "content": "hi"}]):
            pass

    with pytest.raises(DbChatError) as info:
        asyncio.run(raising())
    assert token not in str(info.value)
