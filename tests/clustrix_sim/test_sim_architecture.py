"""Guards on the simulator's shape: no import cycles, and no import of the library it checks.

clustrix_sim is the independent oracle for clustrix's scheduler parsers (DESIGN.md): if it imported
clustrix, a format table shared by both sides would make a wrong format pass every test. The
cycle guard reads every import statement (function-level and ``TYPE_CHECKING`` ones included);
the helper's own tests below show it sees them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from import_graph import find_cycles, format_cycles, import_graph, import_statements, module_files

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "clustrix_sim"


def _is_library(name: str) -> bool:
    # exact names: "clustrix_sim" starts with "clustrix" too
    return name == "clustrix" or name.startswith("clustrix.")


def test_simulator_has_no_import_cycles():
    cycles = find_cycles(import_graph(PACKAGE_DIR, "clustrix_sim"))
    assert not cycles, "import cycles in clustrix_sim (every import statement counts):\n" + format_cycles(cycles)


# The rooms of clustrix_sim, lowest first, as clustrix_sim/__init__.py draws them: a module imports
# its own room and rooms before it, never one after. Every scheduler front end (a folder with a
# tools.py: slurm/, later pbs/ and sge/) takes the FRONT_ENDS place, and may import only the client
# half of the rest.
ROOMS = ["frontends", "engine", "ssh", "controller", "FRONT_ENDS", "strategies", "faults", "cluster", "containers", "cli",
         "__init__"]
FRONT_END_MAY_IMPORT = {"clustrix_sim.engine.model", "clustrix_sim.controller.protocol"}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_imports_point_down_the_rooms():
    front_ends = {p.parent.name for p in PACKAGE_DIR.glob("*/tools.py")}
    rank = {room: ROOMS.index(room) for room in ROOMS}
    rank.update({name: ROOMS.index("FRONT_ENDS") for name in front_ends})
    graph = import_graph(PACKAGE_DIR, "clustrix_sim")
    unknown = sorted({_room(m) for m in graph} - set(rank))
    assert not unknown, f"new rooms {unknown}: place them in ROOMS (and in clustrix_sim/__init__.py's list)"
    upward = [f"{a} -> {b}" for a, targets in sorted(graph.items()) for b in sorted(targets)
              if _room(a) != _room(b) and rank[_room(b)] >= rank[_room(a)]]
    assert not upward, "imports pointing up (or sideways between rooms):\n" + "\n".join(upward)
    wider = [f"{a} -> {b}" for a, targets in sorted(graph.items()) if _room(a) in front_ends
             for b in sorted(targets) if _room(b) != _room(a) and b not in FRONT_END_MAY_IMPORT]
    assert not wider, "a front end is a client: it imports only " + ", ".join(sorted(FRONT_END_MAY_IMPORT)) + \
        "\n" + "\n".join(wider)


def test_no_simulator_module_imports_the_library():
    offenders = [f"{s.where()}: {s.importer} imports {s.target}"
                 for s in import_statements(PACKAGE_DIR, "clustrix_sim") if _is_library(s.target)]
    assert not offenders, "clustrix_sim must never import clustrix:\n" + "\n".join(offenders)


def test_importing_every_simulator_module_loads_no_library_module():
    modules = sorted(module_files(PACKAGE_DIR, "clustrix_sim"))
    script = textwrap.dedent("""
        import importlib, json, sys
        names = json.loads(sys.argv[1])
        for name in names:
            importlib.import_module(name)
        library = sorted(m for m in sys.modules if m == "clustrix" or m.startswith("clustrix."))
        print(json.dumps({"file": sys.modules["clustrix_sim"].__file__, "library": library,
                          "imported": sum(name in sys.modules for name in names)}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", script, json.dumps(modules)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).resolve() == (PACKAGE_DIR / "__init__.py").resolve()
    assert report["imported"] == len(modules) > 30
    assert report["library"] == [], f"importing clustrix_sim loaded {report['library']}"


# -- the helper itself (tests/import_graph.py): it must see every kind of import -------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_graph_sees_function_level_type_checking_and_relative_imports(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "a.py": """
            def f():
                from pkg import b
        """,
        "b.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from .sub.c import C
        """,
        "sub/__init__.py": "from .c import C\n",
        "sub/c.py": """
            try:
                import pkg.a
            except ImportError:
                pass
            import os
        """,
    })
    graph = import_graph(root, "pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"},
                     "pkg.sub": {"pkg.sub.c"}, "pkg.sub.c": {"pkg.a"}}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]


def test_a_re_export_imported_back_is_a_cycle(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "from pkg.x import X\n",
        "x.py": "from pkg import Y\n",  # a name, not a module: the package's __init__
    })
    assert find_cycles(import_graph(root, "pkg")) == [["pkg", "pkg.x", "pkg"]]


def test_independent_components_each_report_one_cycle():
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert find_cycles(graph) == [["a", "b", "a"], ["c", "d", "e", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
