"""What a pickle needs where it is loaded, recorded while pickling: modules, and by-value code.

cloudpickle pickles a function or class *by reference* (module and name) when its module is
importable here, and *by value* (its bytecode) otherwise: ``__main__``, lambdas, closures, and
modules registered with ``cloudpickle.register_pickle_by_value``. The job's unpickler imports
every module named by reference, so those are the modules a job needs; by-value code carries
bytecode, which only the same Python minor version can load, with cloudpickle installed there.

:class:`RecordingPickler` notes both as it pickles (one extra Python call per non-builtin
object, beside the one cloudpickle already makes), plus the modules that by-value code and the
called function import in their bodies (``import x`` inside a function is invisible to
pickling, yet runs in the job). The codec stores the result in the payload's signed metadata
(:meth:`PickleRefs.meta`); the client reads it back with :func:`refs_of_payload` to decide what
local code to ship and which remote checks matter (:mod:`clustrix.payload.local_code`,
:mod:`clustrix.payload.compat`).

Client side only: the job-side runner never imports this module.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import types
from collections.abc import Iterable

import cloudpickle

from clustrix.payload.format import HEADER_LEN, KIND_ARRAY, KIND_CALL, MAGIC, pickle_loads

_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType)
META_MODULES = "modules"
META_BY_VALUE = "by_value"


class PickleRefs:
    """What one payload's pickles need on the other side (filled in while pickling)."""

    __slots__ = ("modules", "by_value")

    def __init__(self, modules: Iterable[str] = (), by_value: bool = False) -> None:
        self.modules: set[str] = set(modules)
        """Modules the job imports (named by reference, or imported by the shipped code)."""
        self.by_value = by_value
        """Some code travels as bytecode (needs the same Python minor version and cloudpickle)."""

    def add_function_imports(self, fn: object) -> None:
        """Add what the called function (and its nested code) imports in its body.

        A function pickled by reference travels as a name, so pickling never looks inside it;
        its ``import`` statements still run in the job.
        """
        fn = getattr(fn, "func", fn)  # JobEntry, functools.partial
        fn = getattr(fn, "func", fn)
        code = getattr(fn, "__code__", None)
        if isinstance(code, types.CodeType):
            self.modules.update(code_imports(code, package=_package_of(fn), recursive=True))

    def meta(self) -> dict[str, object]:
        """The payload metadata entries (plain builtins; section 0 is plain pickle)."""
        return {META_MODULES: tuple(sorted(self.modules)), META_BY_VALUE: self.by_value}

    def __repr__(self) -> str:
        return f"PickleRefs(modules={sorted(self.modules)!r}, by_value={self.by_value!r})"


def _package_of(fn: object) -> str | None:
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    return getattr(module, "__package__", None) if module is not None else None


def code_imports(code: types.CodeType, *, package: str | None = None, recursive: bool = False) -> set[str]:
    """The absolute module names ``code`` imports (``import a.b``, ``from .c import d``).

    Relative imports are resolved against ``package`` and skipped without one.
    """
    import dis  # ~5 ms; only while pickling on the client

    found: set[str] = set()
    consts: list[object] = []
    for ins in dis.get_instructions(code):
        if ins.opname == "LOAD_CONST":
            consts.append(ins.argval)
        elif ins.opname == "IMPORT_NAME":
            level = consts[-2] if len(consts) >= 2 and isinstance(consts[-2], int) else 0
            name = str(ins.argval)
            if level:
                if not package:
                    continue
                try:
                    name = importlib.util.resolve_name("." * level + name, package)
                except (ImportError, ValueError):
                    continue
            if name:
                found.add(name)
    if recursive:
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found |= code_imports(const, package=package, recursive=True)
    return found


def _registered_by_value(name: str) -> bool:
    registry = cloudpickle.list_registry_pickle_by_value()
    parts = name.split(".")
    return any(".".join(parts[:i]) in registry for i in range(1, len(parts) + 1))


class RecordingPickler(cloudpickle.Pickler):
    """cloudpickle's pickler, noting into ``refs`` what the unpickler will need."""

    def __init__(self, file: io.BytesIO, refs: PickleRefs, protocol: int) -> None:
        super().__init__(file, protocol=protocol)
        self.refs = refs
        # Types whose instances cloudpickle leaves to the standard machinery and that need no
        # note (their class is noted when the pickler saves it): answered at once the next time,
        # which keeps the recording cheap on payloads of many small objects.
        self._plain: set[type] = set()

    def reducer_override(self, obj: object) -> object:
        kind = type(obj)
        if kind in self._plain:
            return NotImplemented
        if kind is types.FunctionType:
            by_name = wrapped_reference(obj)  # type: ignore[arg-type]
            if by_name is not None:
                self.refs.modules.add(by_name[1][0])
                return by_name
        result = super().reducer_override(obj)
        if kind is types.CodeType:  # a function or class travelling by value brings its bytecode
            self.refs.by_value = True
            self.refs.modules.update(code_imports(obj))  # type: ignore[arg-type]
        elif kind is types.ModuleType:
            name = obj.__name__  # type: ignore[attr-defined]
            if name in sys.modules and not _registered_by_value(name):
                self.refs.modules.add(name)  # pickled as "import this module there"
        elif result is NotImplemented and (isinstance(obj, type) or isinstance(obj, _FUNCTION_TYPES)):
            module = getattr(obj, "__module__", None)
            if isinstance(module, str):
                self.refs.modules.add(module)  # by reference: module and qualified name
        elif result is NotImplemented:
            self._plain.add(kind)  # an instance: cloudpickle's answer depends on its type alone
        return result


MAX_WRAP_DEPTH = 8


def wrapped_reference(fn: types.FunctionType) -> tuple[object, tuple[str, str, int]] | None:
    """``(load_wrapped, (module, qualname, depth))`` when ``fn`` is reachable by name only
    through decorators (``module.qualname.__wrapped__...``), else None (cloudpickle decides).

    See :mod:`clustrix.payload.wrapped`: without this, a function decorated in its own module
    travels by value, cut off from its package's files.
    """
    module_name, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not isinstance(module_name, str) or module_name in ("__main__", "__mp_main__") or "<" in qualname:
        return None
    module = sys.modules.get(module_name)
    if module is None or _registered_by_value(module_name):
        return None
    try:
        target: object = module
        for part in qualname.split("."):
            target = getattr(target, part)
    except AttributeError:
        return None
    if target is fn:
        return None  # plainly reachable: cloudpickle's ordinary reference
    for depth in range(1, MAX_WRAP_DEPTH + 1):
        target = getattr(target, "__wrapped__", None)
        if target is None:
            return None
        if target is fn:
            from clustrix.payload.wrapped import load_wrapped

            return load_wrapped, (module_name, qualname, depth)
    return None


def dumps_recording(obj: object, refs: PickleRefs, protocol: int) -> bytes:
    """``cloudpickle.dumps(obj)``, recording into ``refs`` what loading it will need."""
    buffer = io.BytesIO()
    RecordingPickler(buffer, refs, protocol).dump(obj)
    return buffer.getvalue()


def refs_of_payload(blob: bytes | bytearray | memoryview) -> PickleRefs | None:
    """The :class:`PickleRefs` a call or array payload made *by this client* records.

    The MAC is not checked (the bytes never left this process); None for anything that is not
    a clustrix call or array payload (older payloads record nothing and get None too).
    """
    view = memoryview(blob)
    if len(view) < HEADER_LEN + 12 or bytes(view[: len(MAGIC)]) != MAGIC:
        return None
    if view[len(MAGIC) + 1] not in (KIND_CALL, KIND_ARRAY):
        return None
    body = view[HEADER_LEN:]
    length = int.from_bytes(body[4:12], "big")
    try:
        meta = pickle_loads(body[12 : 12 + length])
    except Exception:  # noqa: BLE001 - not our framing after all
        return None
    if not isinstance(meta, dict) or META_MODULES not in meta:
        return None
    return PickleRefs(meta.get(META_MODULES, ()), bool(meta.get(META_BY_VALUE, False)))
