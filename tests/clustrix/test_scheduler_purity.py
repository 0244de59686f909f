"""Scheduler modules stay pure: no module in clustrix/schedulers/ may import anything that does I/O.

The check walks the AST of every ``*.py`` file in the package (including modules added later, such
as pbs.py, sge.py or torque.py), so it also catches imports inside functions and ``from x import``
forms. Dynamic tricks (``__import__``, ``importlib.import_module`` of a forbidden name) are caught
by looking at call sites too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import clustrix.schedulers

PACKAGE_DIR = Path(clustrix.schedulers.__file__).resolve().parent
MODULES = sorted(PACKAGE_DIR.glob("*.py"))

FORBIDDEN = frozenset(
    {
        "subprocess", "socket", "os", "pathlib", "shutil", "time", "random", "threading",
        "asyncio", "paramiko", "urllib", "http", "tempfile", "io", "select", "signal",
        "multiprocessing", "concurrent", "sqlite3", "glob", "fcntl", "pty", "ssl", "requests",
        "clustrix.transports", "clustrix.remote", "clustrix.poller", "clustrix.ledger",
        "clustrix_sim",
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


def violations(path: Path) -> list[str]:
    """Every forbidden import or call in one source file, as readable strings."""
    module_name = "clustrix.schedulers." + path.stem
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
            if _is_forbidden(name):
                found.append(f"{path.name}:{node.lineno}: imports {name}")
                break
    return found


def test_the_package_has_modules_to_check():
    assert {"__init__.py", "_script.py", "slurm.py"} <= {p.name for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_scheduler_module_is_pure(path):
    assert violations(path) == []


@pytest.mark.parametrize(
    "source,bad",
    [
        ("import subprocess\n", "subprocess"),
        ("import os.path as p\n", "os.path"),
        ("from pathlib import Path\n", "pathlib"),
        ("def f():\n    import socket\n", "socket"),
        ("from clustrix.transports import local\n", "clustrix.transports"),
        ("from ..transports import ssh\n", "clustrix.transports"),
        ("from .. import remote\n", "clustrix.remote"),
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
