"""README "Try it offline in a notebook": its three cells, verbatim, in a real kernel that has no
credentials at all (issue 12 item 7)."""

from __future__ import annotations

import json
import os

import pytest

from dbchat_magic.auth import CHAIN_ENV
from readme_blocks import blocks, section

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No credentials and no simulator in the environment: the README's cells start their own."""
    config = tmp_path_factory.mktemp("readme-offline-config")
    env = {k: v for k, v in os.environ.items() if k not in CHAIN_ENV}
    env.update(DBCHAT_CONFIG_DIR=str(config),
               DATABRICKS_CONFIG_FILE=str(config / "no-databrickscfg"),
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    return env


def test_the_readme_offline_cells_answer_with_a_chart(kernel) -> None:
    cells = blocks(section("Try it offline in a notebook"))
    assert len(cells) == 3
    runs = [kernel.execute(cell, timeout=180) for cell in cells]
    assert [r.status for r in runs] == ["ok"] * 3, [r.errors for r in runs]
    assert "Databricks workspace" in runs[1].stdout, runs[1].stdout
    assert "no credentials (local server)" in runs[1].stdout
    got = kernel.execute("import json\nprint(json.dumps([_dbchat_last.status, "
                         "_dbchat_last.endpoint, [s.kind for s in "
                         "_dbchat_last.extras.get('specs', [])], _dbchat_last.text[:300]]))",
                         timeout=60)
    status, endpoint, specs, text = json.loads(got.stdout.strip().splitlines()[-1])
    assert (status, specs) == ("completed", ["chart"]), (specs, text)
    assert endpoint == "databricks-meta-llama-3-3-70b-instruct"
