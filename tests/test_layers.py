"""The layer rule holds: a module imports only from its own layer or the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dbchat_magic"

# Lowest first. A top-level module or package name → its layer number.
LAYERS: dict[str, int] = {
    "sse": 0, "events": 0, "result": 0, "errors": 0, "hosts": 0, "markup": 0,
    "config": 1, "auth": 1, "pricing": 1,
    "client": 2,
    "runner": 3, "conversation": 3, "history": 3, "tracing": 3,
    "prompts": 4, "specs": 4,
    "session": 5, "session_specs": 5,
    "ui": 6,
    "magic": 7,
}
# Peers and entry points: the simulator never imports the client or anything above it.
PEERS: dict[str, int] = {"simulator": 0}
APPS = {"__init__", "demo"}  # entry points may wire everything together
SAME_LAYER_FORBIDDEN = {("prompts", "specs"), ("specs", "prompts")}


def _top(name: str) -> str:
    return name.split(".")[1] if name.startswith("dbchat_magic.") else ""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {_top(n) for n in found if n.startswith("dbchat_magic.")}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        out.append((rel.parts[0].removesuffix(".py"), path))
    return out


def test_every_module_has_a_layer() -> None:
    unknown = {top for top, _ in _modules()} - set(LAYERS) - set(PEERS) - APPS
    assert not unknown, f"add these to LAYERS in {__file__}: {sorted(unknown)}"


@pytest.mark.parametrize(("top", "path"), _modules(), ids=lambda v: str(v)[-40:])
def test_no_upward_import(top: str, path: Path) -> None:
    if top in APPS:
        return
    own = LAYERS.get(top, PEERS.get(top))
    assert own is not None
    for target in _imports(path) - {top}:
        if target in PEERS and top not in APPS:
            raise AssertionError(f"{path.name} ({top}) imports the peer {target}")
        where = f"{path} ({top}, layer {own})"
        assert LAYERS[target] <= own, f"{where} imports {target} (layer {LAYERS[target]})"
        assert (top, target) not in SAME_LAYER_FORBIDDEN, f"{path}: {top} must not import {target}"
