"""The authenticated file format for calls, array payloads and results.

Every file clustrix moves between the client and a job is a *signed envelope*::

    magic b"CLUSTRIX" | version u8 | kind u8 | body_len u64 | HMAC-SHA256 (32 bytes) | body
    body = section_count u32 | (section_len u64 | section bytes) * section_count

The MAC covers everything but itself, and is checked with :func:`hmac.compare_digest` *before*
any byte of the body is unpickled, so a tampered, forged or foreign file raises
:class:`~clustrix.errors.PayloadAuthError` and never runs code. Truncation is caught by the
declared body length before the MAC, so a short file raises :class:`~clustrix.errors.PayloadError`
saying so. Section 0 is a small plain-pickle ``dict`` of metadata; the other sections are
pickles kept separate so an array task unpickles only its own chunk, one item's unloadable
result does not poison its neighbours, and large values are not copied twice. Calls and arrays
are pickled with cloudpickle; results with plain pickle when that works (see
:func:`clustrix.payload.result.dumps_portable`), so a job whose function travelled by reference
and returns plain data never imports cloudpickle.

Functions defined in ``__main__``, lambdas and closures travel by value (cloudpickle). Functions
defined at module level in an importable module travel *by reference*: that module must be
importable on the execution host (installed there, or its directory on ``PYTHONPATH``). To help,
payloads carry ``sys_path`` hints (by default the submitting script's directory and the working
directory) which the runner puts in front of ``sys.path`` when those directories exist there.
The metadata also records the modules the job will import and whether code travels by value
(:mod:`clustrix.payload.pickle_refs`): the remote backend ships the user's own modules among them
(:mod:`clustrix.payload.local_code`) and checks the host's Python first (:mod:`clustrix.payload.compat`).

The framing, HMAC and key reading live in :mod:`clustrix.payload.format`, the key-file writers in
:mod:`clustrix.payload.keys` and the result envelope in :mod:`clustrix.payload.result`; all are
re-exported here, the module the rest of clustrix imports. This module is on the job's start-up
path (``python -m clustrix.runner``), so it imports no more than that path needs.
"""

from __future__ import annotations

from clustrix.payload.binding import JobBinding, binding_of, check_result_binding, result_meta
from clustrix.payload.by_value import loads as by_value_loads
from clustrix.payload.format import (  # noqa: F401 - HEADER_LEN is re-exported
    HEADER_LEN,
    KIND_ARRAY,
    KIND_CALL,
    KIND_RESULT,
    MAGIC,
    PICKLE_PROTOCOL,
    atomic_write,
    open_sections,
    payload_error,
    pickle_dumps,
    pickle_loads,
    read_key_file,
    seal,
)
from clustrix.payload.hints import code_file as _code_file
from clustrix.payload.hints import default_sys_path_hints
from clustrix.payload.hints import sys_path_hints as _hints
from clustrix.payload.records import FrozenRecord
from clustrix.payload.result import (
    RemoteTraceback,
    ResultEnvelope,
    dumps_portable,
    error_envelope,
    qualified_name,
)

# The job-side runner imports this module, once per job: cloudpickle, dataclasses, typing and
# clustrix.errors are imported where a path needs them, and the key-file helpers (which need
# clustrix.errors and secrets) are re-exported lazily by ``__getattr__`` below.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from clustrix.payload.keys import (
        KEY_BYTES,
        KeyFileError,
        ensure_key_file,
        new_key,
        write_key_file,
    )
    from clustrix.payload.pickle_refs import PickleRefs

__all__ = [
    "KEY_BYTES",
    "ArrayPayload",
    "Call",
    "JobBinding",
    "KeyFileError",
    "Payload",
    "RemoteTraceback",
    "ResultEnvelope",
    "atomic_write",
    "default_sys_path_hints",
    "dump_array",
    "dump_call",
    "dump_result",
    "ensure_key_file",
    "error_envelope",
    "load_array",
    "load_call",
    "load_payload",
    "load_result",
    "new_key",
    "qualified_name",
    "read_key_file",
    "write_key_file",
]

_LAZY = {
    **dict.fromkeys(["KEY_BYTES", "KeyFileError", "ensure_key_file", "new_key", "write_key_file"],
                    "clustrix.payload.keys"),
    **dict.fromkeys(["PayloadError", "PayloadAuthError"], "clustrix.errors"),
}

_PROTOCOL = PICKLE_PROTOCOL


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clustrix.payload.codec' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


class Call(FrozenRecord):
    """One function call to run elsewhere: ``fn(*args, **kwargs)`` (immutable, like a frozen dataclass)."""

    __slots__ = ("fn", "args", "kwargs")

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None):
        if not callable(fn):
            raise TypeError(f"Call.fn must be callable, got {fn!r} of type {type(fn).__name__}")
        object.__setattr__(self, "fn", fn)
        object.__setattr__(self, "args", tuple(args))
        object.__setattr__(self, "kwargs", dict(kwargs or {}))

    def run(self) -> Any:
        """Call the function here, in this thread."""
        return self.fn(*self.args, **self.kwargs)


def _meta(section: memoryview, what: str) -> dict[str, Any]:
    # Section 0 is authenticated and holds only builtins, so plain pickle is safe here.
    meta = pickle_loads(section)
    if not isinstance(meta, dict):
        raise payload_error(f"malformed clustrix {what}: metadata is not a mapping")
    return meta


def _dumps(obj: object, refs: PickleRefs) -> bytes:
    """Pickle what the client sends: always cloudpickle (``__main__`` code must travel by value).

    ``refs`` collects what the job will need to load it (see :mod:`clustrix.payload.pickle_refs`).
    """
    from clustrix.payload.pickle_refs import dumps_recording  # client side: imports cloudpickle

    return dumps_recording(obj, refs, _PROTOCOL)


def _new_refs(fn: object) -> PickleRefs:
    from clustrix.payload.pickle_refs import PickleRefs

    refs = PickleRefs()
    refs.add_function_imports(fn)
    return refs


# --------------------------------------------------------------------------- calls and arrays


class ArrayPayload(FrozenRecord):
    """An opened (authenticated) array payload; chunks are unpickled only on demand."""

    __slots__ = ("sys_path", "chunk_sizes", "code_file", "_fn_blob", "_chunk_blobs", "binding")
    _repr_hidden = frozenset({"_fn_blob", "_chunk_blobs"})

    sys_path: tuple[str, ...]
    chunk_sizes: tuple[int, ...]
    code_file: str | None
    _fn_blob: memoryview
    _chunk_blobs: tuple[memoryview, ...]
    binding: JobBinding | None

    def __init__(self, sys_path: tuple[str, ...], chunk_sizes: tuple[int, ...], code_file: str | None,
                 _fn_blob: memoryview, _chunk_blobs: tuple[memoryview, ...], binding: JobBinding | None = None):
        init = object.__setattr__
        init(self, "binding", binding)
        init(self, "sys_path", sys_path)
        init(self, "chunk_sizes", chunk_sizes)
        init(self, "code_file", code_file)
        init(self, "_fn_blob", _fn_blob)
        init(self, "_chunk_blobs", _chunk_blobs)

    @property
    def num_chunks(self) -> int:
        return len(self.chunk_sizes)

    def load_fn(self) -> Callable[..., Any]:
        """Unpickle the function (may raise whatever the user's pickle raises, e.g. ImportError)."""
        return by_value_loads(self._fn_blob)

    def load_chunk(self, index: int) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        """Unpickle the ``(args, kwargs)`` items of chunk ``index``."""
        if not 0 <= index < self.num_chunks:
            raise IndexError(f"chunk {index} does not exist; this array has chunks 0..{self.num_chunks - 1}")
        return by_value_loads(self._chunk_blobs[index])


class Payload(FrozenRecord):
    """An opened (authenticated) single-call payload; the call is unpickled on demand."""

    __slots__ = ("sys_path", "code_file", "_call_blob", "binding")
    _repr_hidden = frozenset({"_call_blob"})

    sys_path: tuple[str, ...]
    code_file: str | None
    _call_blob: memoryview
    binding: JobBinding | None

    def __init__(self, sys_path: tuple[str, ...], code_file: str | None, _call_blob: memoryview,
                 binding: JobBinding | None = None):
        init = object.__setattr__
        init(self, "binding", binding)
        init(self, "sys_path", sys_path)
        init(self, "code_file", code_file)
        init(self, "_call_blob", _call_blob)

    def load_call(self) -> Call:
        call = by_value_loads(self._call_blob)
        if not isinstance(call, Call):
            raise payload_error(f"malformed clustrix call payload: holds {type(call).__name__}, not a Call")
        return call


def _binding_meta(binding: JobBinding | None) -> dict[str, str]:
    if binding is None:
        return {}
    if not isinstance(binding, JobBinding):
        raise TypeError(f"binding must be a clustrix.payload.binding.JobBinding, got {type(binding).__name__}")
    return binding.meta()


def dump_call(call: Call, key: bytes, *, sys_path: Sequence[str] | None = None,
              binding: JobBinding | None = None) -> bytes:
    """Serialize and sign one call. ``sys_path`` defaults to :func:`default_sys_path_hints`.

    ``binding`` (every backend passes one) ties the job's result to this job directory and
    submission: see :mod:`clustrix.payload.binding`.
    """
    if not isinstance(call, Call):
        raise TypeError(f"dump_call needs a clustrix.payload.codec.Call, got {type(call).__name__}")
    refs = _new_refs(call.fn)
    blob = _dumps(call, refs)
    meta = pickle_dumps({"sys_path": _hints(sys_path), "code_file": _code_file(call.fn), **_binding_meta(binding),
                         **refs.meta()}, protocol=_PROTOCOL)
    return seal(KIND_CALL, [meta, blob], key)


def dump_array(
    fn: Callable[..., Any],
    chunks: Sequence[Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]]],
    key: bytes,
    *,
    sys_path: Sequence[str] | None = None,
    binding: JobBinding | None = None,
) -> bytes:
    """Serialize and sign an array payload: task ``i`` runs every ``(args, kwargs)`` of chunk ``i``.

    ``binding`` as for :func:`dump_call`.
    """
    from collections.abc import Mapping

    if not callable(fn):
        raise TypeError(f"dump_array needs a callable, got {fn!r}")
    normalized: list[list[tuple[tuple[Any, ...], dict[str, Any]]]] = []
    for ci, chunk in enumerate(chunks):
        items = []
        for ii, item in enumerate(chunk):
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping)):
                raise TypeError(f"array chunk {ci} item {ii} must be a pair (args tuple, kwargs dict), got {item!r}")
            items.append((tuple(item[0]), dict(item[1])))
        if not items:
            raise ValueError(f"array chunk {ci} is empty; every task needs at least one item")
        normalized.append(items)
    if not normalized:
        raise ValueError("an array payload needs at least one chunk")
    refs = _new_refs(fn)
    blobs = [_dumps(fn, refs), *(_dumps(c, refs) for c in normalized)]
    meta = pickle_dumps(
        {"sys_path": _hints(sys_path), "code_file": _code_file(fn), "chunk_sizes": [len(c) for c in normalized],
         **_binding_meta(binding), **refs.meta()},
        protocol=_PROTOCOL,
    )
    return seal(KIND_ARRAY, [meta, *blobs], key)


def load_payload(blob: bytes | bytearray | memoryview, key: bytes) -> Payload | ArrayPayload:
    """Authenticate a ``call.pkl`` of either kind without unpickling any user object."""
    view = memoryview(blob)
    kind = view[len(MAGIC) + 1] if len(view) > len(MAGIC) + 1 else KIND_CALL
    if kind == KIND_ARRAY:
        sections = open_sections(view, key, KIND_ARRAY)
        meta = _meta(sections[0], "array payload")
        sizes = tuple(int(n) for n in meta.get("chunk_sizes", ()))
        if len(sections) != 2 + len(sizes):
            raise payload_error("malformed clustrix array payload: chunk count does not match its sections")
        return ArrayPayload(tuple(meta.get("sys_path", ())), sizes, meta.get("code_file"), sections[1],
                            tuple(sections[2:]), binding_of(meta))
    sections = open_sections(view, key, KIND_CALL)
    meta = _meta(sections[0], "call payload")
    if len(sections) != 2:
        raise payload_error("malformed clustrix call payload: expected 2 sections")
    return Payload(tuple(meta.get("sys_path", ())), meta.get("code_file"), sections[1], binding_of(meta))


def load_call(blob: bytes | bytearray | memoryview, key: bytes) -> Call:
    """Authenticate, then unpickle, a single-call payload."""
    opened = load_payload(blob, key)
    if not isinstance(opened, Payload):
        raise payload_error("expected a clustrix call payload but the file is an array payload")
    return opened.load_call()


def load_array(blob: bytes | bytearray | memoryview, key: bytes) -> ArrayPayload:
    """Authenticate an array payload (chunks are unpickled lazily by :class:`ArrayPayload`)."""
    opened = load_payload(blob, key)
    if not isinstance(opened, ArrayPayload):
        raise payload_error("expected a clustrix array payload but the file is a single-call payload")
    return opened


# --------------------------------------------------------------------------- results


def dump_result(envelopes: Sequence[ResultEnvelope], key: bytes, *, binding: JobBinding | None = None,
                task: int | None = None) -> bytes:
    """Sign the envelopes of one job or array task (one per item, in item order).

    ``binding`` (the payload's) and ``task`` (the array task run, None for a single job) are
    signed with them, so the client can tell this result from another job's or task's.

    An envelope whose value cannot be pickled is replaced by an error envelope saying so, so the
    job still reports something useful instead of failing without a result.
    """
    blobs = []
    for env in envelopes:
        try:
            blobs.append(dumps_portable(env))
        except Exception as exc:  # noqa: BLE001 - any pickling failure becomes a reported error
            err = payload_error(
                f"the function returned a {qualified_name(type(env.value))} that cannot be pickled "
                f"({type(exc).__name__}: {exc}); return plain data instead"
            )
            blobs.append(dumps_portable(error_envelope(err, base=env)))
    meta = pickle_dumps({"count": len(blobs), **result_meta(binding, task)}, protocol=_PROTOCOL)
    return seal(KIND_RESULT, [meta, *blobs], key)


def load_result(blob: bytes | bytearray | memoryview, key: bytes, *, expect: JobBinding | None = None,
                task: int | None = None) -> list[ResultEnvelope]:
    """Authenticate a result file, then unpickle one :class:`ResultEnvelope` per item.

    With ``expect`` (the binding the job was staged with) the result must also be bound to that
    job and to ``task`` (None for a single job); otherwise
    :class:`~clustrix.errors.PayloadAuthError` names what was expected and what was found, and
    nothing is unpickled but the signed metadata.

    An item whose value cannot be unpickled here (its class is missing locally) becomes an
    envelope whose :meth:`~ResultEnvelope.unwrap` raises :class:`PayloadError` naming the cause;
    the other items are unaffected.
    """
    sections = open_sections(blob, key, KIND_RESULT)
    meta = _meta(sections[0], "result")
    if expect is not None:
        check_result_binding(meta, expect, task)
    if meta.get("count") != len(sections) - 1:
        raise payload_error("malformed clustrix result: item count does not match its sections")
    out: list[ResultEnvelope] = []
    for i, section in enumerate(sections[1:]):
        try:
            env = pickle_loads(section)
        except Exception as exc:  # noqa: BLE001 - the user's classes may be missing here
            err = payload_error(
                f"result item {i} cannot be unpickled here ({type(exc).__name__}: {exc}); the "
                "returned value's class must be importable on the client"
            )
            out.append(error_envelope(err))
            continue
        if not isinstance(env, ResultEnvelope):
            raise payload_error(f"malformed clustrix result: item {i} is a {type(env).__name__}")
        out.append(env)
    return out

