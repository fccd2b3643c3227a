"""Issue 12 against the real llama.cpp server: what a new user needs.

These were strict xfails before issue 12 was built (docs/notes/real-llm-harness.md says what each
one failed on then and what the server does in each case). The kernel tests connect with
``%dbchat connect`` (item 1) first: their kernel has no token at all.
"""

from __future__ import annotations

import asyncio

import pytest
from llama_kernel import KernelHarness, kernel_env, value
from llama_probe import COLOURS, settings_for

from dbchat_magic.client import ChatClient
from dbchat_magic.config import Settings
from dbchat_magic.errors import ConfigError

pytestmark = [pytest.mark.real_llm, pytest.mark.timeout(300)]
KEY_VAR = "DBCHAT_TEST_LLAMA_KEY"
# A loaded 2-core machine evaluates the ~650-token system prompt in 6-120 s: no timing is tested.
SLOW_MACHINE = "%dbchat set first_byte_timeout 600\n%dbchat set total_timeout 900"


async def _ask(settings, token=None, messages=COLOURS):
    client = ChatClient(settings, token=token)
    try:
        return await client.complete(messages, max_tokens=8)
    finally:
        await client.aclose()


async def _list(settings, token=None):
    client = ChatClient(settings, token=token)
    try:
        return [e.name for e in await client.list_endpoints()]
    except Exception as exc:  # the message is what the test judges
        return str(exc)
    finally:
        await client.aclose()


# -- item 2: base paths ------------------------------------------------------------------------
def test_base_url_without_v1_answers_or_names_the_rule(llama, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", "placeholder")  # only the base path is judged here
    settings = settings_for(llama, host=llama.root_url)
    result = asyncio.run(_ask(settings))
    assert result.ok or ("/v1" in result.error and "%dbchat endpoints" not in result.error), \
        result.error
    listed = asyncio.run(_list(settings))
    assert listed == ["smollm2"] or ("/v1" in listed and "%dbchat endpoints" not in listed), listed


def test_chat_route_404_names_the_url(llama, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", "placeholder")
    result = asyncio.run(_ask(settings_for(llama, host=f"{llama.root_url}/nothing-here")))
    assert result.status == "failed"
    assert "no chat route" in result.error and "/v1" in result.error, result.error
    assert f"{llama.root_url}/nothing-here" in result.error, result.error


# -- item 3: model ids with '/' ----------------------------------------------------------------
def test_model_id_with_slash_works_for_openai_hosts(llama_path_id):
    assert "/" in llama_path_id.model_id
    settings = settings_for(llama_path_id, endpoint=llama_path_id.model_id)
    result = asyncio.run(_ask(settings, token=llama_path_id.api_key))
    assert result.ok, result.error
    assert result.model == llama_path_id.model_id and result.text


def test_databricks_endpoint_names_keep_their_rule():
    with pytest.raises(ConfigError, match="without '/'"):
        Settings(url_style="databricks", endpoint="org/model")


def test_the_path_id_server_lists_the_path_and_wants_its_key(llama_path_id):
    """The server the slash tests use: its id is the path, and it refuses a wrong token."""
    settings = settings_for(llama_path_id)
    assert asyncio.run(_list(settings, token=llama_path_id.api_key)) == [llama_path_id.model_id]
    refused = asyncio.run(_ask(settings, token="not-the-key"))
    assert refused.status == "failed" and "401" in refused.error, refused.error


# -- item 4: auth ------------------------------------------------------------------------------
def test_local_server_needs_no_token(llama):
    result = asyncio.run(_ask(settings_for(llama)))
    assert result.ok, result.error
    assert result.text


# -- items 1, 4, 5 in a real kernel ------------------------------------------------------------
@pytest.fixture(scope="module")
def bare_kernel(llama, llama_path_id, tmp_path_factory):
    """A kernel with no settings and no credentials; the path server's key in ``KEY_VAR``."""
    env = kernel_env(tmp_path_factory.mktemp("issue12-config"), **{KEY_VAR: llama_path_id.api_key})
    harness = KernelHarness(env, tmp_path_factory.mktemp("issue12-kernel"))
    try:
        assert harness.execute("%load_ext dbchat_magic", timeout=120).status == "ok"
        yield harness
    finally:
        harness.shutdown()


def _run(kernel, code: str, timeout: float = 600):
    ex = kernel.execute(code, timeout=timeout)
    assert ex.status == "ok", [e.get("evalue") for e in ex.errors] or ex.outputs
    return ex


def _connect_local(kernel, llama) -> str:
    """``%dbchat connect`` to the alias server without auth; what it printed."""
    shown = _run(kernel, f"%dbchat connect {llama.base_url} --no-auth").stdout
    _run(kernel, "%dbchat use smollm2\n%dbchat set temperature 0\n%dbchat set max_tokens 32\n"
                 + SLOW_MACHINE)
    return shown


@pytest.mark.kernel
def test_connect_to_a_local_server_without_auth_and_ask(llama, bare_kernel):
    shown = _connect_local(bare_kernel, llama)
    assert llama.base_url in shown
    config = _run(bare_kernel, "%dbchat config").stdout
    assert "no credentials (local server)" in config and "workspace host" not in config, config
    mark = llama.log_size()
    _run(bare_kernel, "%%dbchat -o answer --no-history\nName three colours.")
    got = value(bare_kernel,
                "{'status': answer.status, 'model': answer.model, 'text': answer.text}")
    assert got["status"] == "completed" and got["model"] == "smollm2" and got["text"].strip()
    assert [a.status for a in llama.access_log(mark) if a.method == "POST"] == [200]


@pytest.mark.kernel
def test_connect_with_a_token_from_a_chosen_env_var_and_a_path_model_id(llama_path_id,
                                                                        bare_kernel):
    server = llama_path_id
    connected = _run(bare_kernel, f"%dbchat connect {server.base_url} --openai "
                                  f"--token-env {KEY_VAR}")
    used = _run(bare_kernel, f"%dbchat use {server.model_id}\n%dbchat set max_tokens 8\n"
                             + SLOW_MACHINE)
    config = _run(bare_kernel, "%dbchat config")
    assert KEY_VAR in config.stdout, config.stdout
    _run(bare_kernel, "%%dbchat -o answer --no-history\nSay hello.")
    got = value(bare_kernel, "{'status': answer.status, 'model': answer.model}")
    assert got == {"status": "completed", "model": server.model_id}
    for ex in (connected, used, config):
        assert server.api_key not in str(ex.outputs)


@pytest.mark.kernel
def test_set_validates_like_settings_json(bare_kernel):
    shown = _run(bare_kernel, "%dbchat set max_tokens 16").stdout
    assert "16" in shown
    assert value(bare_kernel, "__import__('dbchat_magic.config').config.Settings.load()"
                              ".max_tokens") == 16
    bad = bare_kernel.execute("%dbchat set max_tokens lots", timeout=60)
    try:
        Settings().replace(max_tokens="lots")
    except ConfigError as err:
        expected = str(err)
    else:
        raise AssertionError("Settings accepted max_tokens='lots'")
    assert bad.status == "error" and [e["evalue"] for e in bad.errors] == [expected]
    assert len(bad.errors[0]["traceback"]) == 1  # one line, no traceback


@pytest.mark.kernel
def test_a_prompt_over_the_context_window_is_refused_before_sending(llama, bare_kernel):
    _connect_local(bare_kernel, llama)
    _run(bare_kernel, "%dbchat set context_tokens 2048")
    mark = llama.log_size()
    ex = bare_kernel.execute("%%dbchat --no-history\nSummarise: " + "lorem ipsum " * 1500,
                             timeout=120)
    said = " ".join([ex.stdout, ex.stderr, *(e.get("evalue", "") for e in ex.errors)])
    assert "context" in said.lower() and "proxy" not in said, said
    assert not [a for a in llama.access_log(mark) if a.method == "POST"], "it was sent"


@pytest.mark.kernel
@pytest.mark.timeout(1200)  # four answers in a row: minutes on a loaded machine
def test_a_long_conversation_keeps_fitting_the_context_window(llama, bare_kernel):
    _connect_local(bare_kernel, llama)
    _run(bare_kernel, "%dbchat set context_tokens 2048")
    note = "Here are my notes: " + "the quarterly figures rose in the north region. " * 45
    for turn in range(4):  # ~420 tokens each: with the ~650-token system prompt turn 4 passes 2,048
        _run(bare_kernel, f"%%dbchat -c long -o a{turn}\n{note}\nQuestion {turn}: any trend?")
    got = value(bare_kernel, "[a.status for a in (a0, a1, a2, a3)]")
    assert got == ["completed"] * 4
