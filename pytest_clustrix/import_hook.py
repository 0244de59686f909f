"""Run a callback once a module is imported, without importing it ourselves.

The plugin must route ``@cluster`` calls to the session's backend, but importing clustrix costs
tens of milliseconds, which every pytest run of every project with clustrix installed would pay.
So routing is installed when ``clustrix.config`` is first imported by the code under test, or
immediately if it already was.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable
from types import ModuleType


class _PostImportFinder(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, callback: Callable[[ModuleType], None]):
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname != self.name:
            return None
        # Find the real spec with every other finder, then wrap its loader.
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _CallbackLoader(spec.loader, self)
                return spec
        return None

    def remove(self) -> None:
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass


class _CallbackLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, finder: _PostImportFinder):
        self.inner = inner
        self.finder = finder

    def create_module(self, spec: importlib.machinery.ModuleSpec):  # type: ignore[override]
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)  # type: ignore[attr-defined]
        self.finder.remove()
        self.finder.callback(module)


def when_imported(name: str, callback: Callable[[ModuleType], None]) -> Callable[[], None]:
    """Call ``callback(module)`` now if ``name`` is imported, else right after its first import.

    Returns a function that cancels a pending hook.
    """
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return lambda: None
    finder = _PostImportFinder(name, callback)
    sys.meta_path.insert(0, finder)
    return finder.remove
