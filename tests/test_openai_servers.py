"""OpenAI-compatible servers (issue 12): the base URL rule, 404 messages, model ids with '/',
auth (none, a token from a chosen variable), and the context window the server names."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from dbchat_magic.auth import describe_auth, resolve_credentials
from dbchat_magic.client import ChatClient
from dbchat_magic.config import Profile, Settings
from dbchat_magic.errors import AuthError, ConfigError
from dbchat_magic.result import ChatResult
from openai_server import OpenAIServer, serve

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    yield from serve(OpenAIServer())


def _settings(host: str, **changes: Any) -> Settings:
    return Settings(**{"url_style": "openai", "host": host, "endpoint": QWEN, "max_retries": 0,
                       **changes})


def _ask(settings: Settings, times: int = 1, **kw: Any) -> list[ChatResult]:
    async def go() -> list[ChatResult]:
        client = ChatClient(settings, **kw)
        try:
            return [await client.complete(HELLO) for _ in range(times)]
        finally:
            await client.aclose()
    return asyncio.run(go())


def _list(settings: Settings) -> Any:
    async def go() -> Any:
        client = ChatClient(settings)
        try:
            return [e.name for e in await client.list_endpoints()]
        except Exception as exc:
            return str(exc)
        finally:
            await client.aclose()
    return asyncio.run(go())


# -- item 2: base paths ------------------------------------------------------------------------
def test_a_bare_host_is_probed_once_and_answers_under_v1(server: OpenAIServer) -> None:
    results = _ask(_settings(server.url), times=2)
    assert [(r.status, r.text, r.model) for r in results] == [("completed", "Hello", QWEN)] * 2
    assert server.paths() == ["GET /v1/models", "POST /v1/chat/completions",
                              "POST /v1/chat/completions"]


def test_a_host_with_v1_is_used_as_given(server: OpenAIServer) -> None:
    (result,) = _ask(_settings(server.url + "/v1"))
    assert result.status == "completed"
    assert server.paths() == ["POST /v1/chat/completions"]
    assert _list(_settings(server.url + "/v1")) == [QWEN]
    assert _list(_settings(server.url)) == [QWEN]


def test_a_wrong_base_path_names_the_url_and_the_v1_rule(server: OpenAIServer) -> None:
    (result,) = _ask(_settings(server.url + "/api"))
    assert result.status == "failed"
    assert result.error.startswith(f"no chat route at {server.url}/api/chat/completions (HTTP "
                                   "404): is the base URL right (…/v1)?"), result.error
    assert "%dbchat endpoints" not in result.error
    listed = _list(_settings(server.url + "/api"))
    assert listed.startswith(f"no model list at {server.url}/api/models") and "/v1" in listed


def test_a_model_the_server_does_not_serve_is_named() -> None:
    for server in serve(OpenAIServer(strict_models=True)):
        (result,) = _ask(_settings(server.url + "/v1", endpoint="no/such"))
        assert result.status == "failed" and "model 'no/such' was not found" in result.error
        assert "no chat route" not in result.error


def test_databricks_hosts_keep_their_openai_route(sim: Any) -> None:
    """The simulator has no /v1: the probe's 404 keeps /serving-endpoints/chat/completions."""
    (result,) = _ask(Settings(url_style="openai", host=sim.url, endpoint="databricks-claude-"
                              "sonnet-4"), token="t")
    assert [e.path for e in sim.stats.log][-1] == "/serving-endpoints/chat/completions"
    assert result.status in ("completed", "failed")


def test_done_without_a_finish_reason_is_a_cut_answer() -> None:
    for server in serve(OpenAIServer(cut=True)):
        (result,) = _ask(_settings(server.url + "/v1"))
        assert (result.status, result.text) == ("truncated", "Hello")
        assert "[DONE]) without a finish_reason" in (result.error or ""), result.error


# -- item 3: model ids with '/' ----------------------------------------------------------------
def test_model_ids_with_a_slash_are_accepted_for_openai_hosts_only() -> None:
    assert Settings(url_style="openai", endpoint=QWEN).endpoint == QWEN
    assert Settings(url_style="openai").replace(endpoint="/models/x.gguf").endpoint == \
        "/models/x.gguf"
    with pytest.raises(ConfigError, match="without '/'"):
        Settings(endpoint=QWEN)
    with pytest.raises(ConfigError, match="spaces"):
        Settings(url_style="openai", endpoint="a b")
    assert Profile(endpoint=QWEN).endpoint == QWEN  # the style may come from the base settings
    with pytest.raises(ConfigError, match="without '/'"):
        Profile(endpoint=QWEN, url_style="databricks")
    with pytest.raises(ConfigError, match="without '/'"):
        Settings().with_profile("q", QWEN).use("q")
    used = Settings(url_style="openai").with_profile("q", QWEN, context_tokens=4096).use("q")
    assert (used.endpoint, used.context_tokens) == (QWEN, 4096)


# -- item 4: auth ------------------------------------------------------------------------------
def test_a_local_server_is_asked_without_credentials(server: OpenAIServer) -> None:
    settings = _settings(server.url + "/v1")
    (result,) = _ask(settings)
    assert result.status == "completed"
    assert server.requests[-1][2] is None  # no Authorization header
    assert describe_auth(settings) == "no credentials (local server)"


def test_databricks_style_still_needs_credentials() -> None:
    with pytest.raises(AuthError, match="no Databricks credentials found"):
        resolve_credentials(Settings(host="http://127.0.0.1:1"))


def test_auth_none_never_sends_the_databricks_token(server: OpenAIServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", "dbx-token-" + "0" * 12)
    _ask(_settings(server.url + "/v1", auth="none"))
    assert server.requests[-1][2] is None


def test_a_token_from_a_chosen_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-test-" + "k" * 24
    for server in serve(OpenAIServer(api_key=key)):
        settings = _settings(server.url, auth="env:MY_LLM_KEY")
        with pytest.raises(AuthError, match=r"MY_LLM_KEY .* is not set"):
            resolve_credentials(settings)
        monkeypatch.setenv("MY_LLM_KEY", key)
        (result,) = _ask(settings)
        assert result.status == "completed", result.error
        assert {auth for _, _, auth in server.requests} == {f"Bearer {key}"}
        said = describe_auth(settings)
        assert "environment variable MY_LLM_KEY" in said and key not in said
        assert key not in Settings.load().to_dict().values()
        refused = _ask(_settings(server.url + "/v1", auth="none"))[0]
        assert refused.status == "failed" and "401" in refused.error


def test_auth_values_are_checked() -> None:
    for good in ("auto", "none", "env:OPENAI_API_KEY"):
        assert Settings().replace(auth=good).auth == good
    for bad in ("token", "env:", "env:A B", "env:1X"):
        with pytest.raises(ConfigError, match="auto, none or env:VARIABLE"):
            Settings().replace(auth=bad)


# -- item 5: the context window the server names -------------------------------------------------
def _probe(settings: Settings) -> Any:
    async def go() -> Any:
        client = ChatClient(settings)
        try:
            return await client.probe()
        finally:
            await client.aclose()
    return asyncio.run(go())


@pytest.mark.parametrize(("kind", "expected"), [("vllm", 32768), ("llama.cpp", 2048),
                                                 ("neither", None)])
def test_the_context_window_is_read_where_the_server_says_it(kind: str,
                                                             expected: int | None) -> None:
    behaviour = {"vllm": {"max_model_len": 32768}, "llama.cpp": {"props_n_ctx": 2048},
                 "neither": {}}[kind]
    for server in serve(OpenAIServer(**behaviour)):
        listed = _probe(_settings(server.url))
        assert listed.openai and listed.models == (QWEN,)
        assert listed.context_of(QWEN) == expected


def test_context_tokens_is_a_setting() -> None:
    assert Settings().context_tokens is None
    assert Settings().replace(context_tokens="8192").context_tokens == 8192
    assert Settings(context_tokens=8192).replace(context_tokens="off").context_tokens is None
    with pytest.raises(ConfigError, match="context_tokens must be at least 256"):
        Settings().replace(context_tokens="100")
