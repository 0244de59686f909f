"""The import graph of a package, read from its source: for the architecture tests.

Every ``import`` and ``from ... import`` statement counts, wherever it stands: at module level,
inside a function, under ``if TYPE_CHECKING:`` or in a ``try:``. A function-level import still
ties two modules together (it only defers the failure), so a cycle through one is a cycle.
Relative imports are resolved against the importing module. Imports done by ``importlib`` with a
computed name are invisible here, by design: they are how the simulator reaches a scheduler front
end by name without depending on it.

Edges point at modules of the package only. ``from pkg.sub import name`` is an edge to
``pkg.sub.name`` when that is a module, else to ``pkg.sub``. Importing ``pkg.sub.mod`` also runs
``pkg/__init__.py`` and ``pkg/sub/__init__.py``; those implicit edges are left out, because a
package's ``__init__`` that re-exports its submodules would otherwise be a cycle with every one
of them. (An ``__init__`` re-export that a submodule imports back *is* an explicit edge, and a
cycle.)

Used by ``tests/clustrix_sim/test_sim_architecture.py`` and meant for the library's own guard:
``import_graph(ROOT / "clustrix", "clustrix")``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ImportStatement", "find_cycles", "format_cycles", "import_graph", "import_statements",
           "module_files"]


@dataclass(frozen=True)
class ImportStatement:
    """One imported module as a statement names it, made absolute.

    ``target`` is ``x.y`` for ``import x.y`` and for ``from x.y import a, b`` (then ``names`` is
    ``("a", "b")``); ``line`` is the statement's line in ``path``.
    """

    importer: str
    path: Path
    line: int
    target: str
    names: tuple[str, ...] = ()

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def module_files(package_dir: Path, package_name: str) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file of the package (``__init__``
    files name their package)."""
    modules: dict[str, Path] = {}
    for path in sorted(Path(package_dir).rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package_name, *parts))] = path
    return modules


def _absolute(module: str | None, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level - 1 > len(base):
        raise ValueError(f"relative import beyond the top-level package in {importer}")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_statements(package_dir: Path, package_name: str) -> Iterator[ImportStatement]:
    """Every import statement of every module of the package (see the module docstring)."""
    for name, path in module_files(package_dir, package_name).items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):  # walk, not tree.body: function-level imports count too
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield ImportStatement(name, path, node.lineno, alias.name)
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(node.module, node.level, name, is_package)
                yield ImportStatement(name, path, node.lineno, target,
                                      tuple(alias.name for alias in node.names))


def _owning_module(dotted: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``dotted`` that is a module of the package, if any."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph(package_dir: Path, package_name: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (see the module docstring for what counts)."""
    modules = module_files(package_dir, package_name)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for statement in import_statements(package_dir, package_name):
        targets: list[str | None] = []
        if statement.names:
            for imported in statement.names:
                submodule = f"{statement.target}.{imported}"
                targets.append(submodule if submodule in modules
                               else _owning_module(statement.target, modules))
        else:
            targets.append(_owning_module(statement.target, modules))
        for target in targets:
            if target is not None and target != statement.importer:
                graph[statement.importer].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one, as ``[a, b, ..., a]``.

    Tarjan's algorithm finds the components; inside each, a breadth-first search from its
    smallest module finds a shortest way back to it. Sorted, so the output is stable.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []

    def connect(node: str) -> None:
        # iterative Tarjan: (node, iterator over its successors)
        work = [(node, iter(sorted(graph.get(node, ()))))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[current] = min(low[current], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == current:
                        break
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles = []
    for component in components:
        start = min(component)
        if len(component) == 1 and start not in graph.get(start, ()):
            continue
        previous: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            following = []
            for node in frontier:
                for succ in sorted(graph.get(node, ())):
                    if succ not in component:
                        continue
                    if succ == start:
                        found = node
                        break
                    if succ not in previous:
                        previous[succ] = node
                        following.append(succ)
                if found is not None:
                    break
            frontier = following
        path = [start]
        node = found
        while node is not None and node != start:
            path.append(node)
            node = previous[node]
        cycles.append([start, *reversed(path[1:]), start])
    return sorted(cycles)


def format_cycles(cycles: list[list[str]]) -> str:
    """One line per cycle: ``a -> b -> a``."""
    return "\n".join(" -> ".join(cycle) for cycle in cycles)
