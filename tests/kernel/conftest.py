"""Real-kernel fixtures: a Jupyter kernel of the *running* venv's Python, driven by jupyter_client.

Reusable by any kernel-level test (the UI engineer's panel tests use it too):

- ``kernel_sim``: a `Simulator` in the test process (module scope). Its env (``DATABRICKS_HOST`` /
  ``DATABRICKS_TOKEN``) and an isolated ``DBCHAT_CONFIG_DIR`` are passed to the kernel. Change its
  pacing with ``kernel_sim.set_pacing(...)``; reset it with ``kernel_sim.reset_stats()``.
- ``kernel``: a started `KernelHarness` (module scope) with ``%load_ext dbchat_magic`` already run,
  the simulator's Llama endpoint chosen and the setting ``widgets`` "on" (the live views are
  widgets on both stacks, as on Databricks; tests/kernel/test_plain_outputs_kernel.py sets
  "auto"). ``kernel.execute(code)`` runs a cell and returns an `Execution` with every iopub
  message seen meanwhile (``.outputs``, ``.stdout``, ``.errors``, ``.comm_msgs`` …);
  ``kernel.start(code)`` + ``kernel.wait(execution)`` run one asynchronously, e.g. to
  ``kernel.interrupt()`` it; ``kernel.send_comm(comm_id, data)`` sends a frontend comm message
  (a widget click: ``{"method": "custom", "content": {"event": "click"}}``).
- ``kernel_env``: the env dict the kernel was started with (for nbclient runs of notebooks).

All kernel tests are marked ``kernel`` and time out generously (the machine is shared).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dbchat_magic.auth import CHAIN_ENV
from dbchat_magic.simulator import LLAMA, Simulator

jupyter_client = pytest.importorskip("jupyter_client")

STARTUP_TIMEOUT = 90.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/kernel as ``kernel``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.kernel)


@dataclass
class Message:
    """One iopub message with the monotonic time it was received in the test process."""

    received: float
    msg: dict[str, Any]

    @property
    def msg_type(self) -> str:
        return str(self.msg["header"]["msg_type"])

    @property
    def content(self) -> dict[str, Any]:
        return self.msg["content"]  # type: ignore[no-any-return]

    @property
    def parent_id(self) -> str | None:
        return self.msg.get("parent_header", {}).get("msg_id")

    @property
    def size(self) -> int:
        """Bytes of the JSON content and buffers (what the frontend receives, roughly)."""
        return len(json.dumps(self.content, default=str)) + sum(
            len(b) for b in self.msg.get("buffers") or ())


@dataclass
class Execution:
    """A cell's execution: its id, the shell reply and every iopub message seen meanwhile."""

    code: str
    msg_id: str
    started: float
    messages: list[Message] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    finished: float | None = None

    def of_type(self, *types: str) -> list[Message]:
        return [m for m in self.messages if m.msg_type in types]

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """The cell's own outputs (stream, display_data, execute_result, error) in order."""
        return [m.content for m in self.messages if m.parent_id == self.msg_id and m.msg_type in
                ("stream", "display_data", "execute_result", "error")]

    @property
    def stdout(self) -> str:
        return "".join(o.get("text", "") for o in self.outputs if o.get("name") == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(o.get("text", "") for o in self.outputs if o.get("name") == "stderr")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if "ename" in o]

    @property
    def comm_msgs(self) -> list[Message]:
        return self.of_type("comm_msg")

    @property
    def status(self) -> str | None:
        return None if self.reply is None else self.reply["content"]["status"]

    def text_outputs(self) -> str:
        """Every text/plain and text/markdown of display_data/execute_result, joined."""
        parts = []
        for o in self.outputs:
            data = o.get("data") or {}
            parts.append(data.get("text/markdown") or data.get("text/plain") or "")
        return "\n".join(parts)


class KernelHarness:
    """A kernel started from ``sys.executable`` (this venv) with a given environment."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        spec_dir = workdir / "kernels" / "dbchat-test"
        spec_dir.mkdir(parents=True, exist_ok=True)
        (spec_dir / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "dbchat test kernel", "language": "python"}))
        self.spec_manager = KernelSpecManager(kernel_dirs=[str(workdir / "kernels")])
        self.env = env
        self.km = KernelManager(kernel_name="dbchat-test", kernel_spec_manager=self.spec_manager)
        self.km.start_kernel(env=env, cwd=str(workdir))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        self.backlog: list[Message] = []

    def start(self, code: str) -> Execution:
        """Send ``code`` for execution and return at once."""
        msg_id = self.kc.execute(code, store_history=True, allow_stdin=False)
        return Execution(code=code, msg_id=msg_id, started=time.monotonic())

    def poll(self, execution: Execution, timeout: float = 0.05) -> bool:
        """Move waiting iopub messages into ``execution``; True once its kernel status is idle."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                msg = self.kc.get_iopub_msg(timeout=max(left, 0.001))
            except queue.Empty:
                return False
            item = Message(time.monotonic(), msg)
            execution.messages.append(item)
            if (item.msg_type == "status" and item.parent_id == execution.msg_id
                    and item.content.get("execution_state") == "idle"):
                return True

    def wait(self, execution: Execution, timeout: float = 60.0,
             until: Callable[[Execution], bool] | None = None) -> Execution:
        """Collect messages until the cell is idle (or ``until(execution)``); then the reply."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.poll(execution, 0.05):
                break
            if until is not None and until(execution):
                return execution
        else:
            raise TimeoutError(f"cell did not finish within {timeout} s: {execution.code[:60]!r}")
        execution.finished = execution.messages[-1].received
        execution.reply = self._reply(execution.msg_id, max(deadline - time.monotonic(), 5.0))
        return execution

    def execute(self, code: str, timeout: float = 60.0) -> Execution:
        """Run ``code`` and wait until it has finished."""
        return self.wait(self.start(code), timeout)

    def interrupt(self) -> float:
        """Interrupt the kernel (■); returns the monotonic time it was sent."""
        sent = time.monotonic()
        self.km.interrupt_kernel()
        return sent

    def send_comm(self, comm_id: str, data: dict[str, Any]) -> None:
        """Send a ``comm_msg`` as a frontend would (e.g. a button click)."""
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.kc.shell_channel.send(msg)

    def _reply(self, msg_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.kc.get_shell_msg(timeout=max(deadline - time.monotonic(), 0.01))
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply  # type: ignore[no-any-return]
        raise TimeoutError("no execute_reply")

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def kernel_environment(sim: Simulator, config_dir: Path) -> dict[str, str]:
    """os.environ without Databricks credentials, plus the simulator's and a private config dir."""
    env = {k: v for k, v in os.environ.items() if k not in CHAIN_ENV}
    env.update(sim.env())
    env["DBCHAT_CONFIG_DIR"] = str(config_dir)
    env["DATABRICKS_CONFIG_FILE"] = str(config_dir / "no-databrickscfg")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


@pytest.fixture(scope="module")
def kernel_sim() -> Iterator[Simulator]:
    """A simulator serving the module's kernel (starts unpaced)."""
    with Simulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def kernel_env(kernel_sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment handed to kernels of this module."""
    return kernel_environment(kernel_sim, tmp_path_factory.mktemp("dbchat-kernel-config"))


@pytest.fixture(scope="module")
def kernel(kernel_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[KernelHarness]:
    """A started kernel with the extension loaded and the simulator's Llama endpoint in use."""
    harness = KernelHarness(kernel_env, tmp_path_factory.mktemp("dbchat-kernel"))
    try:
        setup = harness.execute(f"%load_ext dbchat_magic\n%dbchat use {LLAMA}\n"
                                "from dbchat_magic.config import Settings as _S\n"
                                "_S.load().replace(widgets='on').save()", timeout=60)
        assert setup.status == "ok", setup.outputs
        yield harness
    finally:
        harness.shutdown()
