"""First steps of a new user, from the installed wheel: a terminal answer, then a notebook kernel
(``%load_ext dbchat_magic``, a ``%%dbchat`` cell, a ChatPanel question), all against the simulator.

Run it with a stack's Python from a directory outside the source tree (scripts/test.sh does), so
``src/`` cannot be imported by accident: the first check fails if ``dbchat_magic`` does not come
from this interpreter's site-packages. Exit status 0 when every step answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

QUESTION = "Hello from the installed wheel"
PANEL_QUESTION = "And from the panel"
PANEL_CELL = f"""\
from dbchat_magic import ChatPanel
panel = ChatPanel()
panel.ask({PANEL_QUESTION!r})
result = panel.wait(120)
print("panel:", result.status, result.text)
"""


def check_installed() -> Path:
    """The imported package is the installed wheel (site-packages), with its typing marker."""
    import dbchat_magic

    where = Path(dbchat_magic.__file__).resolve().parent
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    if site not in where.parents:
        raise SystemExit(f"dbchat_magic was imported from {where}, not from {site}")
    if dbchat_magic.__version__ != metadata.version("dbchat-magic"):
        raise SystemExit(f"__version__ {dbchat_magic.__version__} != installed metadata "
                         f"{metadata.version('dbchat-magic')}")
    if not (where / "py.typed").is_file():
        raise SystemExit("the wheel has no py.typed")
    print(f"installed: dbchat-magic {dbchat_magic.__version__} at {where}")
    return where


def terminal_answer() -> None:
    """``python -m dbchat_magic.demo``: one streamed answer with its metrics, in a terminal."""
    out = subprocess.run([sys.executable, "-m", "dbchat_magic.demo", QUESTION,
                          "--tokens-per-second", "0", "--first-token-delay", "0"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    if f"Simulated answer to '{QUESTION}'" not in out or "completed" not in out:
        raise SystemExit(f"the terminal demo gave no complete answer:\n{out[-2000:]}")
    print("terminal: answered")


def notebook_answers(workdir: Path) -> None:
    """A kernel of this Python: load the extension, ask in a cell, ask in a ChatPanel."""
    import nbformat
    from nbclient import NotebookClient

    from dbchat_magic.simulator import LLAMA, Simulator

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext dbchat_magic"),
                nbformat.v4.new_code_cell(f"%%dbchat -e {LLAMA} -o answer\n{QUESTION}"),
                nbformat.v4.new_code_cell("print('cell:', answer.status, answer.text)"),
                nbformat.v4.new_code_cell(f"%dbchat use {LLAMA}\n" + PANEL_CELL)]
    spec = workdir / "jupyter" / "kernels" / "dbchat-smoke" / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                                         "{connection_file}"],
                                "display_name": "dbchat smoke", "language": "python"}))
    with Simulator() as sim:
        env = {**os.environ, **sim.env(), "DBCHAT_CONFIG_DIR": str(workdir),
               "DATABRICKS_CONFIG_FILE": str(workdir / "no-databrickscfg"),
               "JUPYTER_PATH": str(workdir / "jupyter")}  # this Python's kernel, whatever else
        env.pop("PYTHONPATH", None)
        client = NotebookClient(nb, timeout=180, kernel_name="dbchat-smoke",
                                resources={"metadata": {"path": str(workdir)}})
        old = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)  # the kernel inherits this process's environment
        try:
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", ()))
    for want in (f"cell: completed Simulated answer to '{QUESTION}'",
                 f"panel: completed Simulated answer to '{PANEL_QUESTION}'"):
        if want not in printed:
            raise SystemExit(f"missing {want!r} in the notebook's output:\n"
                             f"{json.dumps([c.get('outputs') for c in nb.cells])[-3000:]}")
    print("kernel cell and ChatPanel: answered")


def main() -> int:
    """Every step in a fresh temporary directory (outside the source tree)."""
    with tempfile.TemporaryDirectory(prefix="dbchat-smoke-") as tmp:
        os.chdir(tmp)
        sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
        check_installed()
        terminal_answer()
        notebook_answers(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
