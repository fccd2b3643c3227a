"""README "Other servers", llama.cpp: the server command matches what the fixture runs, and the
notebook cells, verbatim (only the port differs), answer from a kernel without any credentials
(issue 12 acceptance: from pip install to an answer with the README's commands alone)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from llama_kernel import KernelHarness, kernel_env, value

from readme_blocks import blocks, section  # tests/ (on sys.path with tests/conftest.py)

pytestmark = [pytest.mark.real_llm, pytest.mark.kernel, pytest.mark.timeout(400)]


def _llama_blocks() -> tuple[str, list[str]]:
    found = blocks(section("Other servers"))
    at = next(i for i, b in enumerate(found) if "llama_cpp.server" in b)
    return found[at], found[at + 1:at + 3]


def test_the_readme_server_command_is_what_the_tests_run(llama) -> None:
    shell, _ = _llama_blocks()
    install, serve = shell.strip().splitlines()
    assert shlex.split(install) == ["pip", "install", "llama-cpp-python[server]"]
    words = shlex.split(serve)
    assert words[:3] == ["python", "-m", "llama_cpp.server"]
    given = dict(zip(words[3::2], words[4::2], strict=True))
    ran = dict(zip(llama.argv[3::2], llama.argv[4::2], strict=True))
    assert Path(ran["--model"]).name == given.pop("--model")
    assert given.pop("--port") == "8000"  # the tests take a free port instead
    assert {k: ran[k] for k in given} == given  # --model_alias smollm2, --n_ctx 2048


def test_the_readme_notebook_cells_answer(llama, tmp_path_factory) -> None:
    _, cells = _llama_blocks()
    assert len(cells) == 2 and "http://127.0.0.1:8000" in cells[0]
    env = kernel_env(tmp_path_factory.mktemp("readme-config"))
    kernel = KernelHarness(env, tmp_path_factory.mktemp("readme-kernel"))
    try:
        mark = llama.log_size()
        setup = kernel.execute(cells[0].replace("http://127.0.0.1:8000", llama.root_url),
                               timeout=120)
        assert setup.status == "ok", setup.errors
        assert f"{llama.root_url}/v1" in setup.stdout and "smollm2" in setup.stdout
        asked = kernel.execute(cells[1], timeout=300)
        assert asked.status == "ok", asked.errors
        got = value(kernel, "[_dbchat_last.status, _dbchat_last.model, _dbchat_last.text]")
        assert got[:2] == ["completed", "smollm2"] and got[2].strip()
        posts = [a.path for a in llama.access_log(mark) if a.method == "POST"]
        assert posts == ["/v1/chat/completions"]
    finally:
        kernel.shutdown()
