"""Scheduler modules stay pure: nothing in clustrix/schedulers/ may import anything that does I/O.

The check walks the AST of every ``*.py`` file under the package, in every scheduler's folder
(including folders added later), so it also catches imports inside functions and ``from x import``
forms. Dynamic tricks (``__import__``, ``importlib.import_module`` of a forbidden name) are caught
by looking at call sites too. It also follows imports transitively: every clustrix module a
scheduler module reaches must be one of the pure vocabulary modules, checked by the same rules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import clustrix.schedulers

PACKAGE_DIR = Path(clustrix.schedulers.__file__).resolve().parent
CLUSTRIX_DIR = PACKAGE_DIR.parent
MODULES = sorted(PACKAGE_DIR.rglob("*.py"))

PURE_VOCABULARY = ("clustrix.errors", "clustrix.spec", "clustrix.states")
"""The only clustrix modules outside the package that scheduler modules may reach, directly or not."""

ALLOWED_IN_VOCABULARY = {"clustrix.errors": {"concurrent.futures"}}
"""Exceptions to FORBIDDEN outside the package: the error tree subclasses ``CancelledError``."""

FORBIDDEN = frozenset(
    {
        "subprocess", "socket", "os", "pathlib", "shutil", "time", "random", "threading",
        "asyncio", "paramiko", "urllib", "http", "tempfile", "io", "select", "signal",
        "multiprocessing", "concurrent", "sqlite3", "glob", "fcntl", "pty", "ssl", "requests",
        "clustrix.transports", "clustrix.backends", "clustrix.polling", "clustrix.api",
        "clustrix.cli", "clustrix.config", "clustrix.payload", "clustrix_sim",
    }
)
"""Top-level modules (and clustrix subpackages) a pure scheduler module must not import."""

FORBIDDEN_CALLS = frozenset(
    {"open", "exec", "eval", "__import__", "input", "breakpoint", "now", "utcnow", "today"}
)
"""Calls (by function or method name) that read files or the clock, or run arbitrary code."""


def _is_forbidden(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN)


def _resolve(node: ast.ImportFrom, module_name: str) -> str:
    """The absolute module an ``import from`` names (relative imports resolved in the package)."""
    if node.level == 0:
        return node.module or ""
    parts = module_name.split(".")[: -node.level]
    return ".".join(parts + ([node.module] if node.module else []))


def module_name_of(path: Path) -> str:
    """``clustrix/schedulers/slurm/commands.py`` -> ``clustrix.schedulers.slurm.commands``."""
    try:
        parts = list(path.resolve().relative_to(CLUSTRIX_DIR.parent).with_suffix("").parts)
    except ValueError:  # a file outside the tree (the checker's own tests): a top-level module
        parts = ["clustrix", "schedulers", "slurm", path.stem]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    """Every module name one file imports, wherever the import stands (absolute form)."""
    module_name = module_name_of(path)
    if path.name == "__init__.py":
        module_name += ".__init__"  # relative imports resolve from the package itself
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module_name)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def file_of(module: str) -> Path | None:
    """The source file of a clustrix module (a package's ``__init__.py``), if there is one."""
    rel = Path(*module.split("."))
    for candidate in (CLUSTRIX_DIR.parent / rel.with_suffix(".py"), CLUSTRIX_DIR.parent / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def reachable_outside_package() -> dict[str, str]:
    """Every clustrix module outside clustrix.schedulers that the package reaches, and from where."""
    seen: dict[str, str] = {}
    todo = [(module_name_of(p), p) for p in MODULES]
    visited = set()
    while todo:
        name, path = todo.pop()
        if name in visited:
            continue
        visited.add(name)
        for imported in imported_names(path):
            if not (imported == "clustrix" or imported.startswith("clustrix.")):
                continue
            target = file_of(imported)
            if target is None:
                continue  # a name imported from a module, not a module
            target_name = module_name_of(target)
            if not target_name.startswith("clustrix.schedulers"):
                seen.setdefault(target_name, name)
            todo.append((target_name, target))
    return seen


def violations(path: Path, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Every forbidden import or call in one source file, as readable strings."""
    module_name = module_name_of(path)
    if path.name == "__init__.py":
        module_name += ".__init__"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module_name)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in FORBIDDEN_CALLS:
                found.append(f"{path.name}:{node.lineno}: calls {name}()")
            if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
                target = str(node.args[0].value)
                if _is_forbidden(target):
                    found.append(f"{path.name}:{node.lineno}: imports {target} dynamically")
            continue
        else:
            continue
        for name in names:
            if _is_forbidden(name) and name not in allowed:
                found.append(f"{path.name}:{node.lineno}: imports {name}")
                break
    return found


def test_the_package_has_modules_to_check():
    found = {module_name_of(p) for p in MODULES}
    assert {"clustrix.schedulers", "clustrix.schedulers.script", "clustrix.schedulers.contract"} <= found
    for name in ("slurm", "pbs", "torque", "sge"):
        assert {f"clustrix.schedulers.{name}", f"clustrix.schedulers.{name}.commands"} <= found


@pytest.mark.parametrize("path", MODULES, ids=[module_name_of(p) for p in MODULES])
def test_scheduler_module_is_pure(path):
    assert violations(path) == []


def test_scheduler_modules_reach_only_pure_vocabulary_modules():
    reached = reachable_outside_package()
    assert set(reached) <= set(PURE_VOCABULARY), {m: f"via {src}" for m, src in reached.items()
                                                   if m not in PURE_VOCABULARY}


@pytest.mark.parametrize("module", PURE_VOCABULARY)
def test_vocabulary_modules_are_pure_too(module):
    path = file_of(module)
    assert path is not None
    assert violations(path, frozenset(ALLOWED_IN_VOCABULARY.get(module, ()))) == []


def test_the_transitive_check_sees_through_a_vocabulary_module(tmp_path, monkeypatch):
    """A module reached only through another clustrix module is still found."""
    me = sys.modules[__name__]

    fake_root = tmp_path / "clustrix"
    (fake_root / "schedulers").mkdir(parents=True)
    (fake_root / "schedulers" / "__init__.py").write_text("from clustrix import spec\n")
    (fake_root / "spec.py").write_text("from clustrix.backends import factory\n")
    (fake_root / "backends").mkdir()
    (fake_root / "backends" / "__init__.py").write_text("")
    (fake_root / "backends" / "factory.py").write_text("")
    monkeypatch.setattr(me, "CLUSTRIX_DIR", fake_root)
    monkeypatch.setattr(me, "MODULES", sorted((fake_root / "schedulers").rglob("*.py")))
    reached = me.reachable_outside_package()
    assert reached == {"clustrix.spec": "clustrix.schedulers",
                       "clustrix.backends.factory": "clustrix.spec",
                       "clustrix.backends": "clustrix.spec"}


@pytest.mark.parametrize(
    "source,bad",
    [
        ("import subprocess\n", "subprocess"),
        ("import os.path as p\n", "os.path"),
        ("from pathlib import Path\n", "pathlib"),
        ("def f():\n    import socket\n", "socket"),
        ("from clustrix.transports import local\n", "clustrix.transports"),
        ("from ...transports import ssh\n", "clustrix.transports"),
        ("from ... import backends\n", "clustrix.backends"),
        ("from ...polling import poller\n", "clustrix.polling"),
        ("from time import monotonic\n", "time"),
        ("import importlib\nimportlib.import_module('paramiko')\n", "paramiko"),
        ("x = open('/etc/passwd')\n", "open()"),
        ("import datetime\nstamp = datetime.datetime.now()\n", "now()"),
    ],
)
def test_the_checker_catches_forbidden_imports(tmp_path, source, bad):
    path = tmp_path / "fake.py"
    path.write_text(source, encoding="utf-8")
    found = violations(path)
    assert found and bad in found[0]


def test_the_checker_allows_pure_imports(tmp_path):
    path = tmp_path / "fine.py"
    path.write_text(
        "from __future__ import annotations\nimport re, posixpath, shlex, logging\n"
        "from collections.abc import Sequence\nfrom clustrix.spec import JobSpec\n"
        "from . import _script\nfrom .slurm_states import map_state\n",
        encoding="utf-8",
    )
    assert violations(path) == []
