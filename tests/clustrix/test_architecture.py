"""Guards on the library's shape: no import cycle anywhere, and imports that point down the layers.

Every import statement counts, wherever it stands (function-level and ``TYPE_CHECKING`` ones
included): a deferred import still ties two modules together. The layers follow the path a call
takes (README "Layout"); a module may import its own layer and the layers below it, never above.
The scheduler modules' purity is ``schedulers/test_purity.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import find_cycles, format_cycles, import_graph

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "clustrix"

LAYERS = [
    "clustrix.cli",          # the command line, on top of everything
    "clustrix",              # the package's public face (lazy re-exports)
    "clustrix.api",          # @cluster, ClusterExecutor, attach
    "clustrix.backends",     # where calls run
    "clustrix.polling",      # watching jobs
    "clustrix.transports",   # running commands, moving files
    "clustrix.schedulers",   # pure scheduler modules
    "clustrix.futures",      # the vocabulary shared by backends and api...
    "clustrix.runner",       # the job's entry point
    "clustrix.payload",      # what travels to the job and back
    "clustrix.config",       # profiles
    "clustrix.spec",         # ...and the values everything speaks
    "clustrix.gantt",        # timelines: pure model and rendering (data in, text out)
    "clustrix.states",
    "clustrix.paths",
    "clustrix.errors",
]
"""Highest first. Each module belongs to the longest entry that is it or a package above it."""


def layer_of(module: str) -> int:
    best = max((entry for entry in LAYERS if module == entry or module.startswith(entry + ".")),
               key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and README's Layout)")
    return LAYERS.index(best)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} -> {b}" for a, targets in sorted(graph.items()) for b in sorted(targets)
            if layer_of(b) < layer_of(a)]


def test_the_library_has_no_import_cycles():
    cycles = find_cycles(import_graph(PACKAGE_DIR, "clustrix"))
    assert not cycles, "import cycles in clustrix (every import statement counts):\n" + format_cycles(cycles)


def test_imports_point_down_the_layers():
    upward = upward_imports(import_graph(PACKAGE_DIR, "clustrix"))
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


@pytest.fixture
def fake_library(tmp_path: Path) -> Path:
    """A small package shaped like clustrix, for showing that the guards can fail."""
    pkg = tmp_path / "clustrix"
    for sub in ("api", "backends", "polling"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text('"""A layer."""\n')
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("class ClustrixError(Exception): ...\n")
    (pkg / "polling" / "poller.py").write_text("from clustrix.errors import ClustrixError\n")
    (pkg / "backends" / "remote.py").write_text("from clustrix.polling import poller\n")
    (pkg / "api" / "executor.py").write_text("from clustrix.backends import remote\n")
    return pkg


def test_the_guards_pass_a_well_layered_package(fake_library: Path):
    graph = import_graph(fake_library, "clustrix")
    assert find_cycles(graph) == [] and upward_imports(graph) == []


def test_a_function_level_import_back_is_a_cycle(fake_library: Path):
    (fake_library / "polling" / "poller.py").write_text(
        "def tick():\n    from clustrix.backends.remote import RemoteBackend\n")
    graph = import_graph(fake_library, "clustrix")
    cycles = find_cycles(graph)
    assert cycles and {"clustrix.polling.poller", "clustrix.backends.remote"} <= set(cycles[0])
    assert upward_imports(graph) == ["clustrix.polling.poller -> clustrix.backends.remote"]


def test_a_type_checking_import_up_a_layer_is_caught(fake_library: Path):
    (fake_library / "polling" / "poller.py").write_text(
        "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from clustrix.api import executor\n")
    assert upward_imports(import_graph(fake_library, "clustrix")) == [
        "clustrix.polling.poller -> clustrix.api.executor"]
