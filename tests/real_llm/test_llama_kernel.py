"""``%%dbchat`` and the ChatPanel in a real kernel, answered by the real llama.cpp server.

The kernel is configured as a user must do it today: settings.json with ``url_style`` openai, the
``/v1`` host and the model alias, plus a placeholder ``DATABRICKS_TOKEN`` (issue 12 item 4).
"""

from __future__ import annotations

import pytest
from llama_kernel import KernelHarness, kernel_env, markdown_outputs, shown_messages, value
from llama_probe import PLACEHOLDER_TOKEN, reference, same_cache_state, settings_for

pytestmark = [pytest.mark.real_llm, pytest.mark.kernel, pytest.mark.timeout(300)]
MAX_TOKENS = 16


@pytest.fixture(scope="module")
def llama_kernel(llama, tmp_path_factory):
    config = tmp_path_factory.mktemp("llama-kernel-config")
    settings_for(llama, max_tokens=MAX_TOKENS, first_byte_timeout=600.0,
                 total_timeout=900.0).save(config / "settings.json")  # a loaded machine is slow
    env = kernel_env(config, DATABRICKS_TOKEN=PLACEHOLDER_TOKEN)
    harness = KernelHarness(env, tmp_path_factory.mktemp("llama-kernel"))
    try:
        setup = harness.execute("%load_ext dbchat_magic", timeout=120)
        assert setup.status == "ok", setup.outputs
        yield harness
    finally:
        harness.shutdown()


def test_dbchat_cell_shows_the_real_models_answer(llama, llama_kernel):
    """The cell shows exactly the server's greedy answer to the exact prompt the cell sends."""
    cell = "%%dbchat -o answer --no-history\nName three colours."
    shown = llama_kernel.execute(cell.replace("-o answer", "--show-prompt"), timeout=120)
    assert shown.status == "ok", shown.outputs
    messages = shown_messages(shown.stdout)
    assert [m["role"] for m in messages] == ["system", "user"]
    same_cache_state(llama, messages)
    ref = reference(llama, messages, max_tokens=MAX_TOKENS)["choices"][0]["message"]["content"]
    same_cache_state(llama, messages)
    mark = llama.log_size()
    ex = llama_kernel.execute(cell, timeout=180)
    assert ex.status == "ok", ex.outputs
    got = value(llama_kernel, "{'status': answer.status, 'text': answer.text, "
                              "'model': answer.model, 'estimated': answer.usage.estimated}")
    assert got == {"status": "completed", "text": ref, "model": "smollm2", "estimated": True}
    assert ref.strip() and markdown_outputs(ex)[0] == ref
    posts = [a for a in llama.access_log(mark) if a.path == "/v1/chat/completions"]
    assert [a.status for a in posts] == [200]


def test_chat_panel_lists_the_model_and_answers(llama, llama_kernel):
    mark = llama.log_size()
    run = llama_kernel.execute(
        "from dbchat_magic import ChatPanel\npanel = ChatPanel()\npanel\n"
        "assert panel.settings.endpoints_settled.wait(60)\n"
        "panel.ask('Name three colours.')\nresult = panel.wait(150)", timeout=180)
    assert run.status == "ok", run.outputs
    got = value(llama_kernel, "{'status': result.status, 'text': result.text, "
                              "'model': result.model, 'note': panel.settings.note.value, "
                              "'options': [label for label, _ in panel.settings.endpoint.options]}")
    assert got["status"] == "completed" and got["text"].strip() and got["model"] == "smollm2"
    assert any("smollm2" in label for label in got["options"]), got
    assert "unavailable" not in got["note"], got["note"]
    paths = [(a.method, a.path, a.status) for a in llama.access_log(mark)]
    assert ("GET", "/v1/models", 200) in paths and ("POST", "/v1/chat/completions", 200) in paths
