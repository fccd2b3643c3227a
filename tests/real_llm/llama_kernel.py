"""Real kernels for the real_llm tests, with tests/kernel/conftest.py's `KernelHarness`."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from dbchat_magic.auth import CHAIN_ENV

REPO = Path(__file__).resolve().parents[2]
_HEADER = re.compile(r"── message (\d+): (\w+) \(([\d,]+) chars\) ──\n")


def _kernel_conftest() -> ModuleType:
    """tests/kernel/conftest.py as a plain module (conftests are not importable by name)."""
    spec = importlib.util.spec_from_file_location(
        "dbchat_kernel_harness", REPO / "tests" / "kernel" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_harness = _kernel_conftest()
KernelHarness = _harness.KernelHarness


def kernel_env(config_dir: Path, **extra: str) -> dict[str, str]:
    """os.environ without Databricks credentials, a private config dir, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CHAIN_ENV}
    env["DBCHAT_CONFIG_DIR"] = str(config_dir)
    env["DATABRICKS_CONFIG_FILE"] = str(config_dir / "no-databrickscfg")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.update(extra)
    return env


def value(kernel: Any, expression: str) -> Any:
    """Evaluate ``expression`` in the kernel; its value via a JSON round trip on stdout."""
    run = kernel.execute(f"import json as _j\nprint(_j.dumps({expression}))", timeout=120)
    assert run.status == "ok", run.outputs
    return json.loads(run.stdout.strip().splitlines()[-1])


def shown_messages(stdout: str) -> list[dict[str, str]]:
    """The messages ``%%dbchat --show-prompt`` printed (each header gives its exact length)."""
    messages, at = [], 0
    while (m := _HEADER.search(stdout, at)) is not None:
        size = int(m[3].replace(",", ""))
        messages.append({"role": m[2], "content": stdout[m.end():m.end() + size]})
        at = m.end() + size
    assert messages, f"no messages in the --show-prompt output: {stdout[:300]!r}"
    return messages


def markdown_outputs(execution: Any) -> list[str]:
    """The answer text of the cell's settled outputs, in order: the text/plain beside the
    sanitized text/html an answer settles as (the widget's own bundle has an empty text/html)."""
    return [o["data"]["text/plain"] for o in execution.outputs
            if o.get("data", {}).get("text/html") and "text/plain" in o["data"]]
