"""The layer rule holds: a module imports only from its own layer or the layers below it, and no
two modules import each other, directly or round a longer loop — counting imports inside
functions and under ``TYPE_CHECKING`` (a cycle hidden that way still couples the two modules)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dbchat_magic"

# Lowest first. A top-level module or package name → its layer number.
LAYERS: dict[str, int] = {
    "sse": 0, "events": 0, "result": 0, "errors": 0, "hosts": 0, "markup": 0, "tokens": 0,
    "config": 1, "auth": 1, "pricing": 1,
    "client": 2,
    "runner": 3, "conversation": 3, "history": 3, "tracing": 3,
    "prompts": 4, "specs": 4,
    "session": 5,
    "ui": 6,
    "magic": 7,
}
# Peers and entry points: the simulator never imports the client or anything above it.
PEERS: dict[str, int] = {"simulator": 0}
APPS = {"__init__", "demo"}  # entry points may wire everything together
SAME_LAYER_FORBIDDEN = {("prompts", "specs"), ("specs", "prompts")}


# -- the import graph -------------------------------------------------------------------------

def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root`` by dotted name (a package by its own name)."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module an ``ImportFrom`` names, relative imports resolved against ``importer``."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(path: Path, importer: str, modules: Iterable[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere: at the top, inside functions and
    under ``TYPE_CHECKING`` alike. ``from pkg import name`` is an import of the module
    ``pkg.name`` when there is one, else of ``pkg`` itself."""
    known = set(modules)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, importer, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {name for name in found if name in known and name != importer}


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the modules it imports, for the package at ``root``."""
    modules = module_names(root)
    return {name: imported_modules(path, name, modules) for name, path in modules.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other round a loop (Tarjan's strongly connected
    components of more than one module), each sorted by name."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def loop_of(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, for the message."""
    members, start = set(group), group[0]
    came: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in came:
                    came[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return [*group, group[0]]


# -- the package's rules -----------------------------------------------------------------------

def _top(name: str) -> str:
    return name.split(".")[1] if name.startswith("dbchat_magic.") else ""


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        out.append((rel.parts[0].removesuffix(".py"), path))
    return out


_NAMES = module_names(PACKAGE)
_BY_PATH = {path: name for name, path in _NAMES.items()}


def test_every_module_has_a_layer() -> None:
    unknown = {top for top, _ in _modules()} - set(LAYERS) - set(PEERS) - APPS
    assert not unknown, f"add these to LAYERS in {__file__}: {sorted(unknown)}"


@pytest.mark.parametrize(("top", "path"), _modules(), ids=lambda v: str(v)[-40:])
def test_no_upward_import(top: str, path: Path) -> None:
    if top in APPS:
        return
    own = LAYERS.get(top, PEERS.get(top))
    assert own is not None
    targets = {_top(n) for n in imported_modules(path, _BY_PATH[path], _NAMES)}
    for target in targets - {top, ""}:
        if target in PEERS and top not in APPS:
            raise AssertionError(f"{path.name} ({top}) imports the peer {target}")
        where = f"{path} ({top}, layer {own})"
        assert LAYERS[target] <= own, f"{where} imports {target} (layer {LAYERS[target]})"
        assert (top, target) not in SAME_LAYER_FORBIDDEN, f"{path}: {top} must not import {target}"


def test_no_import_cycle_anywhere_in_the_package() -> None:
    graph = import_graph(PACKAGE)
    cycles = import_cycles(graph)
    assert not cycles, "modules that import each other (lazily or not):\n" + "\n".join(
        " → ".join(loop_of(group, graph)) + f"  (all of: {', '.join(group)})"
        for group in cycles)


# -- the checker itself, on tiny packages ------------------------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for rel, text in {"__init__.py": "", **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


PLANTED = {
    "top-level": {"a.py": "import pkg.b\n", "b.py": "from pkg.a import thing\n"},
    "lazy": {"a.py": "from pkg import b\n",
             "b.py": "def f():\n    from pkg.a import thing\n    return thing\n"},
    "type-checking": {"a.py": "from pkg.b import B\n",
                      "b.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                               "    from pkg.a import A\n")},
    "relative": {"sub/__init__.py": "", "sub/a.py": "from . import b\n",
                 "sub/b.py": "from .c import x\n", "sub/c.py": "from ..sub.a import y\n"},
    "through a package": {"p/__init__.py": "from pkg.p.m import M\n",
                          "p/m.py": "def f():\n    from pkg.p import other\n"},
}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_the_checker_finds_a_planted_cycle(tmp_path: Path, kind: str) -> None:
    graph = import_graph(_package(tmp_path, PLANTED[kind]))
    cycles = import_cycles(graph)
    assert len(cycles) == 1, cycles
    loop = loop_of(cycles[0], graph)
    assert loop[0] == loop[-1] and set(loop) == set(cycles[0])


def test_the_checker_names_the_loop_in_order(tmp_path: Path) -> None:
    root = _package(tmp_path, {"a.py": "import pkg.b\n", "b.py": "import pkg.c\n",
                               "c.py": "def f():\n    import pkg.a\n", "d.py": "import pkg.a\n"})
    graph = import_graph(root)
    assert import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert loop_of(["pkg.a", "pkg.b", "pkg.c"], graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]


def test_the_checker_passes_a_package_without_cycles(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "a.py": "import pkg.b\nfrom pkg import c\n",
        "b.py": "from pkg.c import x\ndef f():\n    import json\n    from pkg import c\n",
        "c.py": "import os\n",
        "sub/__init__.py": "from pkg.sub.m import M\n",
        "sub/m.py": "from pkg.a import A\n",  # importing pkg.sub.m runs pkg.sub: not an edge back
    })
    graph = import_graph(root)
    assert graph["pkg.a"] == {"pkg.b", "pkg.c"} and graph["pkg.sub.m"] == {"pkg.a"}
    assert import_cycles(graph) == []
