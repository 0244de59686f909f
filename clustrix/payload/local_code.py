"""Which of the modules a job needs are the user's own code, to be shipped with it.

A module is *local* when its source sits outside the standard library and every installation
directory (``site-packages``/``dist-packages`` of any environment on ``sys.path``, the user site):
the script's directory, a project's ``src/``, an editable install (``pip install -e``), a
directory on ``PYTHONPATH``. A cluster has never seen those, so a function from ``mylab``
(``from mylab.analysis import fit``), which cloudpickle sends by reference, would fail there with
``ModuleNotFoundError``. clustrix ships such modules whole, as their *top-level* package: a
function in ``mylab.analysis`` brings all of ``mylab``, so ``import mylab.util`` inside it (at
run time, invisible to pickling), relative imports and the package's data files work as they
do here.

Discovery (:func:`local_modules`) starts from the modules a payload records
(:mod:`clustrix.payload.pickle_refs`: named by reference, or imported in the body of the called
function or of by-value code) plus the names the user lists (``ship_modules``), keeps the local
top-level ones, and follows, transitively, what their loaded modules refer to (a module-level
``import helpers`` in ``mylab/analysis.py`` brings ``helpers.py``). Never shipped: the standard
library, installed distributions, clustrix itself and cloudpickle (the job's own runner), and
``__main__`` (its functions travel by value already).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import site
import sys
import sysconfig
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clustrix.errors import ConfigError

NEVER_SHIPPED = frozenset({"clustrix", "clustrix_sim", "pytest_clustrix", "cloudpickle", "__main__",
                           "__mp_main__", "builtins"})
"""Top-level names that are never shipped: the job's own runner and what travels by value."""
_INSTALL_DIR_NAMES = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class LocalModule:
    """One top-level module or package of the user's, as found on this machine.

    ``paths`` holds the package directory (or the directories of a namespace package's
    portions), or the single ``.py`` file of a plain module; archives name their entries
    relative to each path's parent, so that parent goes on the job's ``sys.path``.
    """

    name: str
    paths: tuple[str, ...]
    is_package: bool


@functools.lru_cache(maxsize=1)
def _install_dirs() -> tuple[str, ...]:
    dirs: set[str] = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(os.path.realpath(path))
    try:
        dirs.update(os.path.realpath(p) for p in site.getsitepackages())
    except AttributeError:  # some embedded interpreters lack it
        pass
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    if isinstance(user_site, str):
        dirs.add(os.path.realpath(user_site))
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        dirs.add(os.path.realpath(os.path.join(prefix, "lib")))  # Windows-style and lib/pythonX.Y trees
    return tuple(sorted(dirs))


def is_installed_path(path: str, install_dirs: Sequence[str] | None = None) -> bool:
    """True for a file or directory inside the standard library or any installation directory."""
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    if any(name in parts for name in _INSTALL_DIR_NAMES):
        return True
    for root in install_dirs if install_dirs is not None else _install_dirs():
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def _paths_of(name: str) -> tuple[tuple[str, ...], bool] | None:
    """Where the top-level module ``name`` lives here: (paths, is_package), or None if nowhere."""
    module = sys.modules.get(name)
    if module is not None:
        search = getattr(module, "__path__", None)
        if search is not None:
            file = getattr(module, "__file__", None)
            if isinstance(file, str):  # a regular package: its directory
                return (os.path.dirname(os.path.abspath(file)),), True
            return tuple(os.path.abspath(p) for p in search), True  # a namespace package's portions
        file = getattr(module, "__file__", None)
        return ((os.path.abspath(file),), False) if isinstance(file, str) else None
    try:
        spec = importlib.util.find_spec(name)  # finds without importing (it is a top-level name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations is not None:
        if spec.origin and spec.has_location:
            return (os.path.dirname(os.path.abspath(spec.origin)),), True
        return tuple(os.path.abspath(p) for p in spec.submodule_search_locations), True
    if spec.origin and spec.has_location:
        return (os.path.abspath(spec.origin),), False
    return None


def local_module(name: str, install_dirs: Sequence[str] | None = None) -> LocalModule | None:
    """The top-level module ``name`` if it is the user's own code here (see the module docstring)."""
    top = name.partition(".")[0]
    if not top or top in NEVER_SHIPPED or top in sys.builtin_module_names:
        return None
    if top in getattr(sys, "stdlib_module_names", ()):
        return None
    found = _paths_of(top)
    if found is None:
        return None
    paths, is_package = found
    dirs = install_dirs if install_dirs is not None else _install_dirs()
    paths = tuple(p for p in paths if os.path.exists(p) and not is_installed_path(p, dirs))
    if not paths:
        return None
    if not is_package and not paths[0].endswith(".py"):
        return None  # a compiled extension or a .pyc-only module outside a package: not source to ship
    return LocalModule(top, paths, is_package)


def _referenced_tops(top: str) -> set[str]:
    """Top-level names the loaded modules of package ``top`` refer to at module level."""
    found: set[str] = set()
    for name, module in list(sys.modules.items()):
        if module is None or not (name == top or name.startswith(top + ".")):
            continue
        try:
            values = list(vars(module).values())
        except TypeError:
            continue
        for value in values:
            if isinstance(value, types.ModuleType):
                found.add(value.__name__.partition(".")[0])
            elif isinstance(value, (type, types.FunctionType)):
                owner = getattr(value, "__module__", None)
                if isinstance(owner, str):
                    found.add(owner.partition(".")[0])
    found.discard(top)
    return found


def local_modules(module_names: Iterable[str], *, always: Sequence[str] = ()) -> list[LocalModule]:
    """The user's own top-level modules among ``module_names``, transitively, plus ``always``.

    ``always`` (the ``ship_modules`` setting) names modules to ship even when discovery does
    not find them (a module only imported by a data-dependent ``importlib.import_module``); each
    must be importable here and be the user's own code, else :class:`ConfigError` says which.
    Sorted by name, so equal inputs give equal archives.
    """
    dirs = _install_dirs()
    chosen: dict[str, LocalModule] = {}
    for name in always:
        top = name.partition(".")[0] if isinstance(name, str) else ""
        found = local_module(top, dirs) if top else None
        if found is None:
            where = _paths_of(top) if top else None
            why = ("is not importable here" if where is None else
                   f"is not local code (it lives in {where[0][0]}, which is installed or part of Python)")
            raise ConfigError(f"ship_modules names {name!r}, which {why}; list only your own "
                              "top-level modules or packages", key="ship_modules")
        chosen[top] = found
    pending = sorted({n.partition(".")[0] for n in module_names if isinstance(n, str)} - set(chosen))
    pending += list(chosen)
    seen: set[str] = set()
    while pending:
        top = pending.pop()
        if top in seen:
            continue
        seen.add(top)
        found = chosen.get(top) or local_module(top, dirs)
        if found is None:
            continue
        chosen[top] = found
        pending.extend(sorted(_referenced_tops(top) - seen))
    return [chosen[name] for name in sorted(chosen)]
