"""The authenticated file format for calls, array payloads and results.

Every file clustrix moves between the client and a job is a *signed envelope*::

    magic b"CLUSTRIX" | version u8 | kind u8 | body_len u64 | HMAC-SHA256 (32 bytes) | body
    body = section_count u32 | (section_len u64 | section bytes) * section_count

The MAC covers everything but itself, and is checked with :func:`hmac.compare_digest` *before*
any byte of the body is unpickled, so a tampered, forged or foreign file raises
:class:`~clustrix.errors.PayloadAuthError` and never runs code. Truncation is caught by the
declared body length before the MAC, so a short file raises :class:`~clustrix.errors.PayloadError`
saying so. Section 0 is a small plain-pickle ``dict`` of metadata; the other sections are
cloudpickle blobs kept separate so an array task unpickles only its own chunk, one item's
unloadable result does not poison its neighbours, and large values are not copied twice.

Functions defined in ``__main__``, lambdas and closures travel by value (cloudpickle). Functions
defined at module level in an importable module travel *by reference*: that module must be
importable on the execution host (installed there, or its directory on ``PYTHONPATH``). To help,
payloads carry ``sys_path`` hints (by default the submitting script's directory and the working
directory) which the runner puts in front of ``sys.path`` when those directories exist there.

The key-file helpers live in :mod:`clustrix.payload_keys` and the result envelope in
:mod:`clustrix.payload_result`; both are re-exported here, the module the rest of clustrix imports.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from clustrix.errors import PayloadAuthError, PayloadError
from clustrix.payload_keys import (
    KEY_BYTES,
    KeyFileError,
    ensure_key_file,
    new_key,
    read_key_file,
    write_key_file,
)
from clustrix.payload_result import RemoteTraceback, ResultEnvelope, error_envelope, qualified_name

__all__ = [
    "KEY_BYTES",
    "ArrayPayload",
    "Call",
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

MAGIC = b"CLUSTRIX"
FORMAT_VERSION = 1
KIND_CALL = ord("C")
KIND_ARRAY = ord("A")
KIND_RESULT = ord("R")
_KIND_NAMES = {KIND_CALL: "call payload", KIND_ARRAY: "array payload", KIND_RESULT: "result"}
_PREFIX = struct.Struct(">8sBBQ")  # magic, version, kind, body length
_MAC_LEN = hashlib.sha256().digest_size
HEADER_LEN = _PREFIX.size + _MAC_LEN
_COUNT = struct.Struct(">I")
_LEN = struct.Struct(">Q")
_PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass(frozen=True)
class Call:
    """One function call to run elsewhere: ``fn(*args, **kwargs)``."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"Call.fn must be callable, got {self.fn!r} of type {type(self.fn).__name__}")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))

    def run(self) -> Any:
        """Call the function here, in this thread."""
        return self.fn(*self.args, **self.kwargs)


# --------------------------------------------------------------------------- framing


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise PayloadError(
            f"the HMAC key must be bytes of length >= 16 (use clustrix.payload.new_key()), got "
            f"{type(key).__name__} of length {len(key) if isinstance(key, (bytes, bytearray, str)) else '?'}"
        )


def _seal(kind: int, sections: Sequence[bytes | bytearray | memoryview], key: bytes) -> bytes:
    """Frame ``sections`` and sign them; the body is built once, the MAC streams over it."""
    _check_key(key)
    parts: list[bytes | bytearray | memoryview] = [_COUNT.pack(len(sections))]
    for section in sections:
        parts.append(_LEN.pack(len(section)))
        parts.append(section)
    body_len = sum(len(p) for p in parts)
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, kind, body_len)
    mac = hmac.new(bytes(key), prefix, hashlib.sha256)
    for part in parts:
        mac.update(part)
    return b"".join([prefix, mac.digest(), *parts])


def _open(blob: bytes | bytearray | memoryview, key: bytes, kind: int) -> list[memoryview]:
    """Verify ``blob`` and return its sections as zero-copy views. Nothing is unpickled here."""
    _check_key(key)
    what = _KIND_NAMES[kind]
    view = memoryview(blob)
    if len(view) == 0:
        raise PayloadError(f"the clustrix {what} is empty (0 bytes); the file was never written or was cut short")
    if len(view) < HEADER_LEN:
        if bytes(view[: len(MAGIC)]) != MAGIC[: len(view)]:
            raise PayloadError(f"not a clustrix {what}: it does not start with {MAGIC!r} ({len(view)} bytes)")
        raise PayloadError(
            f"truncated clustrix {what}: {len(view)} bytes, the header alone needs {HEADER_LEN}; "
            "the file was cut short (disk full, interrupted copy?)"
        )
    magic, version, got_kind, body_len = _PREFIX.unpack_from(view)
    if magic != MAGIC:
        raise PayloadError(f"not a clustrix {what}: starts with {bytes(magic)!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise PayloadError(
            f"clustrix {what} has format version {version} but this clustrix reads version "
            f"{FORMAT_VERSION}; install the same clustrix version on the client and the execution host"
        )
    body = view[HEADER_LEN:]
    if len(body) != body_len:
        raise PayloadError(
            f"truncated clustrix {what}: header declares a {body_len}-byte body but {len(body)} bytes "
            "follow it; the file was cut short or appended to"
        )
    expected = hmac.new(bytes(key), view[: _PREFIX.size], hashlib.sha256)
    expected.update(body)
    if not hmac.compare_digest(expected.digest(), bytes(view[_PREFIX.size : HEADER_LEN])):
        raise PayloadAuthError(
            f"HMAC check failed for a clustrix {what}: it was not written with this key (wrong key "
            "file, or the file was modified after it was written); it was not unpickled"
        )
    if got_kind != kind:
        got = _KIND_NAMES.get(got_kind, f"kind {got_kind!r}")
        raise PayloadError(f"expected a clustrix {what} but the file is a {got}")
    return _split_sections(body, what)


def _split_sections(body: memoryview, what: str) -> list[memoryview]:
    if len(body) < _COUNT.size:
        raise PayloadError(f"malformed clustrix {what}: body too short for its section count")
    (count,) = _COUNT.unpack_from(body)
    offset = _COUNT.size
    sections = []
    for _ in range(count):
        if offset + _LEN.size > len(body):
            raise PayloadError(f"malformed clustrix {what}: section table runs past the end")
        (length,) = _LEN.unpack_from(body, offset)
        offset += _LEN.size
        if offset + length > len(body):
            raise PayloadError(f"malformed clustrix {what}: a section runs past the end")
        sections.append(body[offset : offset + length])
        offset += length
    if offset != len(body) or not sections:
        raise PayloadError(f"malformed clustrix {what}: section table does not match the body")
    return sections


def _meta(section: memoryview, what: str) -> dict[str, Any]:
    # Section 0 is authenticated and holds only builtins, so plain pickle is safe here.
    meta = pickle.loads(section)
    if not isinstance(meta, dict):
        raise PayloadError(f"malformed clustrix {what}: metadata is not a mapping")
    return meta


def _dumps(obj: object) -> bytes:
    return cloudpickle.dumps(obj, protocol=_PROTOCOL)


def default_sys_path_hints() -> list[str]:
    """Directories the runner should put on ``sys.path``: the script's directory and the cwd."""
    hints: list[str] = []
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if isinstance(main_file, str):
        hints.append(os.path.dirname(os.path.abspath(main_file)))
    try:
        hints.append(os.getcwd())
    except OSError:  # the cwd was deleted; nothing to hint
        pass
    return list(dict.fromkeys(hints))


def _code_file(fn: object) -> str | None:
    """The source file of ``fn`` (cloudpickle blanks it to ``<dynamic-code>`` for by-value code)."""
    fn = getattr(fn, "func", fn)  # functools.partial
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object: its class's __call__
        code = getattr(vars(type(fn)).get("__call__"), "__code__", None)
    name = getattr(code, "co_filename", None)
    return name if isinstance(name, str) and not name.startswith("<") else None


def _hints(sys_path: Sequence[str] | None) -> list[str]:
    hints = default_sys_path_hints() if sys_path is None else list(sys_path)
    return [p for p in hints if isinstance(p, str) and p]


# --------------------------------------------------------------------------- calls and arrays


@dataclass(frozen=True)
class ArrayPayload:
    """An opened (authenticated) array payload; chunks are unpickled only on demand."""

    sys_path: tuple[str, ...]
    chunk_sizes: tuple[int, ...]
    code_file: str | None
    _fn_blob: memoryview = field(repr=False)
    _chunk_blobs: tuple[memoryview, ...] = field(repr=False)

    @property
    def num_chunks(self) -> int:
        return len(self.chunk_sizes)

    def load_fn(self) -> Callable[..., Any]:
        """Unpickle the function (may raise whatever the user's pickle raises, e.g. ImportError)."""
        return pickle.loads(self._fn_blob)

    def load_chunk(self, index: int) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        """Unpickle the ``(args, kwargs)`` items of chunk ``index``."""
        if not 0 <= index < self.num_chunks:
            raise IndexError(f"chunk {index} does not exist; this array has chunks 0..{self.num_chunks - 1}")
        return pickle.loads(self._chunk_blobs[index])


@dataclass(frozen=True)
class Payload:
    """An opened (authenticated) single-call payload; the call is unpickled on demand."""

    sys_path: tuple[str, ...]
    code_file: str | None
    _call_blob: memoryview = field(repr=False)

    def load_call(self) -> Call:
        call = pickle.loads(self._call_blob)
        if not isinstance(call, Call):
            raise PayloadError(f"malformed clustrix call payload: holds {type(call).__name__}, not a Call")
        return call


def dump_call(call: Call, key: bytes, *, sys_path: Sequence[str] | None = None) -> bytes:
    """Serialize and sign one call. ``sys_path`` defaults to :func:`default_sys_path_hints`."""
    if not isinstance(call, Call):
        raise TypeError(f"dump_call needs a clustrix.payload.Call, got {type(call).__name__}")
    meta = pickle.dumps({"sys_path": _hints(sys_path), "code_file": _code_file(call.fn)}, protocol=_PROTOCOL)
    return _seal(KIND_CALL, [meta, _dumps(call)], key)


def dump_array(
    fn: Callable[..., Any],
    chunks: Sequence[Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]]],
    key: bytes,
    *,
    sys_path: Sequence[str] | None = None,
) -> bytes:
    """Serialize and sign an array payload: task ``i`` runs every ``(args, kwargs)`` of chunk ``i``."""
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
    meta = pickle.dumps(
        {"sys_path": _hints(sys_path), "code_file": _code_file(fn), "chunk_sizes": [len(c) for c in normalized]},
        protocol=_PROTOCOL,
    )
    return _seal(KIND_ARRAY, [meta, _dumps(fn), *(_dumps(c) for c in normalized)], key)


def load_payload(blob: bytes | bytearray | memoryview, key: bytes) -> Payload | ArrayPayload:
    """Authenticate a ``call.pkl`` of either kind without unpickling any user object."""
    view = memoryview(blob)
    kind = view[len(MAGIC) + 1] if len(view) > len(MAGIC) + 1 else KIND_CALL
    if kind == KIND_ARRAY:
        sections = _open(view, key, KIND_ARRAY)
        meta = _meta(sections[0], "array payload")
        sizes = tuple(int(n) for n in meta.get("chunk_sizes", ()))
        if len(sections) != 2 + len(sizes):
            raise PayloadError("malformed clustrix array payload: chunk count does not match its sections")
        return ArrayPayload(tuple(meta.get("sys_path", ())), sizes, meta.get("code_file"), sections[1],
                            tuple(sections[2:]))
    sections = _open(view, key, KIND_CALL)
    meta = _meta(sections[0], "call payload")
    if len(sections) != 2:
        raise PayloadError("malformed clustrix call payload: expected 2 sections")
    return Payload(tuple(meta.get("sys_path", ())), meta.get("code_file"), sections[1])


def load_call(blob: bytes | bytearray | memoryview, key: bytes) -> Call:
    """Authenticate, then unpickle, a single-call payload."""
    opened = load_payload(blob, key)
    if not isinstance(opened, Payload):
        raise PayloadError("expected a clustrix call payload but the file is an array payload")
    return opened.load_call()


def load_array(blob: bytes | bytearray | memoryview, key: bytes) -> ArrayPayload:
    """Authenticate an array payload (chunks are unpickled lazily by :class:`ArrayPayload`)."""
    opened = load_payload(blob, key)
    if not isinstance(opened, ArrayPayload):
        raise PayloadError("expected a clustrix array payload but the file is a single-call payload")
    return opened


# --------------------------------------------------------------------------- results


def dump_result(envelopes: Sequence[ResultEnvelope], key: bytes) -> bytes:
    """Sign the envelopes of one job or array task (one per item, in item order).

    An envelope whose value cannot be pickled is replaced by an error envelope saying so, so the
    job still reports something useful instead of failing without a result.
    """
    blobs = []
    for env in envelopes:
        try:
            blobs.append(_dumps(env))
        except Exception as exc:  # noqa: BLE001 - any pickling failure becomes a reported error
            err = PayloadError(
                f"the function returned a {qualified_name(type(env.value))} that cannot be pickled "
                f"({type(exc).__name__}: {exc}); return plain data instead"
            )
            blobs.append(_dumps(error_envelope(err, base=env)))
    meta = pickle.dumps({"count": len(blobs)}, protocol=_PROTOCOL)
    return _seal(KIND_RESULT, [meta, *blobs], key)


def load_result(blob: bytes | bytearray | memoryview, key: bytes) -> list[ResultEnvelope]:
    """Authenticate a result file, then unpickle one :class:`ResultEnvelope` per item.

    An item whose value cannot be unpickled here (its class is missing locally) becomes an
    envelope whose :meth:`~ResultEnvelope.unwrap` raises :class:`PayloadError` naming the cause;
    the other items are unaffected.
    """
    sections = _open(blob, key, KIND_RESULT)
    meta = _meta(sections[0], "result")
    if meta.get("count") != len(sections) - 1:
        raise PayloadError("malformed clustrix result: item count does not match its sections")
    out: list[ResultEnvelope] = []
    for i, section in enumerate(sections[1:]):
        try:
            env = pickle.loads(section)
        except Exception as exc:  # noqa: BLE001 - the user's classes may be missing here
            err = PayloadError(
                f"result item {i} cannot be unpickled here ({type(exc).__name__}: {exc}); the "
                "returned value's class must be importable on the client"
            )
            out.append(error_envelope(err))
            continue
        if not isinstance(env, ResultEnvelope):
            raise PayloadError(f"malformed clustrix result: item {i} is a {type(env).__name__}")
        out.append(env)
    return out


def atomic_write(path: str, data: bytes | bytearray | memoryview, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename.

    Readers see either the old file or the complete new one, never a partial write; the file is
    created with ``mode`` (default 0600) regardless of the umask.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed or (with mode > 0600) blocked bits
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    try:  # make the rename itself durable; not every filesystem allows fsync on a directory
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
