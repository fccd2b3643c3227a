"""Every ``__all__`` is honest: each name in it exists, and each public name a module defines (or a
package re-exports from its own modules) is listed — anything else is named with a leading ``_``.
Package ``__init__`` modules and the public top-level modules must have an ``__all__``."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dbchat_magic"
ENTRY_POINTS = {"dbchat_magic.demo", "dbchat_magic.magic.async_cell",
                "dbchat_magic.simulator.__main__"}
"""Modules run or called by name (``python -m``, rewritten cells): they export nothing."""


def _name(path: Path) -> str:
    parts = ["dbchat_magic", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _public(path: Path) -> bool:
    """A package ``__init__`` or a module whose own name and whose packages' names are public."""
    rel = path.relative_to(PACKAGE)
    return not any(part.startswith("_") for part in rel.parts[:-1]) and (
        rel.name == "__init__.py" or not rel.name.startswith("_"))


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
PUBLIC = sorted(n for n, p in MODULES.items() if _public(p) and n not in ENTRY_POINTS)
WITH_ALL = sorted(n for n, p in MODULES.items() if "__all__" in p.read_text())


def _type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def defined_names(path: Path) -> set[str]:
    """Public names a module binds at its top level: defs, classes and assignments, and for a
    package ``__init__`` the names it imports from the package itself (its re-exports), plus the
    keys of a lazy ``_LAZY`` table. Imports under ``TYPE_CHECKING`` are only for the checker."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if _type_checking(node):
            continue
        found.update(_bound_names(node))
        if (path.name == "__init__.py" and isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("dbchat_magic")):
            found.update(alias.asname or alias.name for alias in node.names)
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            found.update(k.value for k in node.value.keys  # type: ignore[attr-defined]
                         if isinstance(k, ast.Constant))
    return {name for name in found if not name.startswith("_")}


@pytest.mark.parametrize("module", PUBLIC)
def test_public_modules_declare_all(module: str) -> None:
    assert "__all__" in MODULES[module].read_text(), f"{module} has no __all__"


@pytest.mark.parametrize("module", WITH_ALL)
def test_every_name_in_all_exists(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not missing, f"{module}.__all__ lists names it does not have: {missing}"
    assert len(set(mod.__all__)) == len(mod.__all__), f"{module}.__all__ repeats a name"


@pytest.mark.parametrize("module", WITH_ALL)
def test_every_public_name_is_listed(module: str) -> None:
    mod = importlib.import_module(module)
    unlisted = sorted(defined_names(MODULES[module]) - set(mod.__all__))
    assert not unlisted, (f"{module} defines public names missing from __all__ (list them or "
                          f"rename them with a leading _): {unlisted}")


def test_the_package_exports_its_error_base() -> None:
    import dbchat_magic
    from dbchat_magic.errors import DbChatError

    assert dbchat_magic.DbChatError is DbChatError and "DbChatError" in dbchat_magic.__all__


def test_the_checker_sees_unlisted_and_private_names(tmp_path: Path) -> None:
    module = tmp_path / "__init__.py"
    module.write_text("from __future__ import annotations\nimport os\n"
                      "from typing import TYPE_CHECKING, Any\n"
                      "from dbchat_magic.errors import DbChatError as Base\n"
                      "if TYPE_CHECKING:\n    from dbchat_magic.result import ChatResult\n"
                      "LIMIT = 3\n_hidden = 1\nclass Thing: ...\ndef helper() -> None: ...\n"
                      "_LAZY = {'Panel': 'x'}\n")
    assert defined_names(module) == {"Base", "LIMIT", "Thing", "helper", "Panel"}
