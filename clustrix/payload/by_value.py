"""Loading by-value functions on the job side without importing cloudpickle (~30 ms per job).

A function defined in ``__main__``, a lambda or a closure travels by value: cloudpickle writes its
code object, globals and closure, and names its own small reconstructors in the pickle
(``cloudpickle.cloudpickle._make_function``, ``_function_setstate``, ``_make_cell``...). Importing
cloudpickle to get them costs about 30 ms, most of it ``dataclasses``, ``inspect``, ``typing`` and
``logging``, which cloudpickle's module body needs only for *pickling*. Every job pays that once,
and on a simulated cluster it was most of a trivial job's run.

:func:`loads` unpickles with an :class:`pickle.Unpickler` whose ``find_class`` answers the
reconstructors of by-value *functions* and cells from this module; each does exactly what its
cloudpickle namesake does (the same few standard-library calls; a test compares functions rebuilt
both ways, attribute by attribute, and another checks that the installed cloudpickle still has
these names and signatures). Any other cloudpickle name in the stream (a class, enum or TypeVar
defined by value, a dict view, a logger...) is looked up in the real cloudpickle, imported then;
mixing is safe because the function reconstructors share no state with the class ones except the
empty-cell sentinel, which always comes from here. Once cloudpickle is imported (by the stream,
or by anything else), plain :func:`pickle.loads` is used.
"""

from __future__ import annotations

import builtins
import sys
import types

TYPE_CHECKING = False  # not ``from typing import ...``: this module is on the job's start-up path
if TYPE_CHECKING:
    from typing import Any

try:
    from _pickle import Unpickler as _Unpickler
    from _pickle import loads as _pickle_loads
except ImportError:  # an interpreter without the C accelerator
    from pickle import Unpickler as _Unpickler  # type: ignore[assignment]
    from pickle import loads as _pickle_loads

_CLOUDPICKLE_MODULES = frozenset({"cloudpickle.cloudpickle", "cloudpickle.cloudpickle_fast", "cloudpickle"})


class _EmptyCell:
    """Stands for "this cell has no value" (cloudpickle's ``_empty_cell_value``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<empty cell>"


_empty_cell_value = _EmptyCell()


def _builtin_type(name: str) -> type:
    if name == "ClassType":  # written by cloudpickle < 1.3
        return type
    return getattr(types, name)


def subimport(name: str) -> types.ModuleType:
    __import__(name)  # returns the top-level package; the submodule is in sys.modules
    return sys.modules[name]


def dynamic_subimport(name: str, vars: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(vars)
    module.__dict__["__builtins__"] = builtins.__dict__
    return module


def _make_function(code: types.CodeType, globals: dict[str, Any], name: str | None,
                   argdefs: tuple[Any, ...] | None, closure: tuple[Any, ...] | None) -> types.FunctionType:
    globals["__builtins__"] = builtins.__dict__
    return types.FunctionType(code, globals, name, argdefs, closure)


def _make_empty_cell() -> types.CellType:
    return types.CellType()


def _make_cell(value: Any = _empty_cell_value) -> types.CellType:
    return types.CellType() if value is _empty_cell_value else types.CellType(value)


def _function_setstate(obj: types.FunctionType, state: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Fill a function made by :func:`_make_function`: ``__globals__`` and ``__closure__`` are read-only
    attributes, so they are updated in place rather than set."""
    attributes, slots = state
    obj.__dict__.update(attributes)
    slots = dict(slots)
    func_globals = slots.pop("__globals__")
    closure = slots.pop("__closure__")
    # Only held so that the submodules the code uses were imported while unpickling.
    slots.pop("_cloudpickle_submodules", None)
    obj.__globals__.update(func_globals)
    obj.__globals__["__builtins__"] = builtins.__dict__
    if closure is not None:
        for mine, theirs in zip(obj.__closure__ or (), closure, strict=True):
            try:
                mine.cell_contents = theirs.cell_contents
            except ValueError:  # an empty cell stays empty
                continue
    for name, value in slots.items():
        setattr(obj, name, value)


_RECONSTRUCTORS: dict[str, Any] = {
    "_builtin_type": _builtin_type,
    "subimport": subimport,
    "dynamic_subimport": dynamic_subimport,
    "_make_function": _make_function,
    "_make_empty_cell": _make_empty_cell,
    "_make_cell": _make_cell,
    "_function_setstate": _function_setstate,
    "_empty_cell_value": _empty_cell_value,
}
"""cloudpickle's names this module answers: those of by-value functions and their cells."""


class _ByValueUnpickler(_Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _CLOUDPICKLE_MODULES:
            own = _RECONSTRUCTORS.get(name)
            if own is not None:
                return own
        return super().find_class(module, name)


class _ViewReader:
    """A read-only file over a buffer, without the copy :class:`io.BytesIO` would make of it."""

    __slots__ = ("_view", "_pos")

    def __init__(self, data: bytes | memoryview):
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        start = self._pos
        end = len(self._view) if size is None or size < 0 else min(len(self._view), start + size)
        self._pos = end
        return self._view[start:end].tobytes()

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        piece = self._view[self._pos:self._pos + len(target)]
        target[:len(piece)] = piece
        self._pos += len(piece)
        return len(piece)

    def readline(self, size: int = -1) -> bytes:  # only text-mode opcodes (protocol 0) read lines
        line = bytearray()
        view = self._view
        while self._pos < len(view) and (size is None or size < 0 or len(line) < size):
            byte = view[self._pos]
            self._pos += 1
            line.append(byte)
            if byte == 0x0A:
                break
        return bytes(line)


def loads(data: bytes | memoryview) -> Any:
    """Unpickle ``data`` (a trusted, already authenticated pickle) as :func:`pickle.loads` would.

    By-value functions are rebuilt without importing cloudpickle; see the module docstring.
    """
    if "cloudpickle" in sys.modules:
        return _pickle_loads(data)
    return _ByValueUnpickler(_ViewReader(data)).load()
