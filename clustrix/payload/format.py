"""The signed file format's standard-library core: framing, HMAC, key-file reading, atomic writes.

Every file clustrix moves between the client and a job is a *signed envelope*::

    magic b"CLUSTRIX" | version u8 | kind u8 | body_len u64 | HMAC-SHA256 (32 bytes) | body
    body = section_count u32 | (section_len u64 | section bytes) * section_count

The MAC (HMAC-SHA256, :mod:`clustrix.payload.mac`) covers everything but itself, and is checked
with :func:`hmac.compare_digest` *before* any byte of the body is unpickled. This module is what
the job-side runner needs before it runs the user's function, so it imports only cheap
standard-library modules: clustrix's error classes
(``clustrix.errors`` pulls in ``concurrent.futures`` and ``logging``) are imported when an error is
raised, never on the success path. :mod:`clustrix.payload.codec` builds calls, arrays and results on it.
"""

from __future__ import annotations

import os
import stat
import struct

from clustrix.payload.key_checks import key_dir_problem, key_file_problem
from clustrix.payload.mac import DIGEST_SIZE, compare_digest, hmac_sha256

TYPE_CHECKING = False  # not ``from typing import ...``: typing costs ~5 ms per job start
if TYPE_CHECKING:
    from collections.abc import Sequence

MAGIC = b"CLUSTRIX"
FORMAT_VERSION = 2
# 2: results carry the job binding (job-dir id, task, nonce) the client checks; a version-1
# runner would write results without it, so the two refuse each other with a clear message.
KIND_CALL = ord("C")
KIND_ARRAY = ord("A")
KIND_RESULT = ord("R")
KIND_CODE = ord("P")  # the shipped-code list of a job (clustrix.payload.code_paths)
KIND_NAMES = {KIND_CALL: "call payload", KIND_ARRAY: "array payload", KIND_RESULT: "result",
              KIND_CODE: "shipped-code list"}
_PREFIX = struct.Struct(">8sBBQ")  # magic, version, kind, body length
_MAC_LEN = DIGEST_SIZE
HEADER_LEN = _PREFIX.size + _MAC_LEN
_COUNT = struct.Struct(">I")
_LEN = struct.Struct(">Q")

KEY_BYTES = 32
"""Length of a clustrix HMAC-SHA256 key in bytes."""

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

# The C pickler itself: ``pickle.dumps``/``pickle.loads`` *are* these functions on CPython, but
# ``import pickle`` also imports ``re`` (~5 ms per job start) just to build its ``__all__``.
try:
    from _pickle import dumps as pickle_dumps
    from _pickle import loads as pickle_loads
except ImportError:  # an interpreter without the accelerator
    from pickle import dumps as pickle_dumps  # noqa: F401 - used by clustrix.payload.codec
    from pickle import loads as pickle_loads  # noqa: F401

PICKLE_PROTOCOL = -1
"""Pickle protocol for everything clustrix writes: -1 is ``pickle.HIGHEST_PROTOCOL``."""


# --------------------------------------------------------------------------- errors, lazily


def payload_error(message: str) -> Exception:
    """A :class:`~clustrix.errors.PayloadError` (imported here, on the failure path only)."""
    from clustrix.errors import PayloadError

    return PayloadError(message)


def payload_auth_error(message: str) -> Exception:
    """A :class:`~clustrix.errors.PayloadAuthError`."""
    from clustrix.errors import PayloadAuthError

    return PayloadAuthError(message)


def key_file_error(message: str) -> Exception:
    """A :class:`~clustrix.errors.KeyFileError`."""
    from clustrix.errors import KeyFileError

    return KeyFileError(message)


def is_payload_error(exc: BaseException) -> bool:
    """True for :class:`~clustrix.errors.PayloadError` and its subclasses (``KeyFileError`` too)."""
    from clustrix.errors import PayloadError

    return isinstance(exc, PayloadError)


# --------------------------------------------------------------------------- framing


def check_key(key: bytes) -> None:
    """Refuse anything but bytes of at least 16 bytes as an HMAC key."""
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise payload_error(
            f"the HMAC key must be bytes of length >= 16 (use clustrix.payload.codec.new_key()), got "
            f"{type(key).__name__} of length {len(key) if isinstance(key, (bytes, bytearray, str)) else '?'}"
        )


def seal(kind: int, sections: Sequence[bytes | bytearray | memoryview], key: bytes) -> bytes:
    """Frame ``sections`` and sign them; the body is built once, the MAC streams over it."""
    check_key(key)
    parts: list[bytes | bytearray | memoryview] = [_COUNT.pack(len(sections))]
    for section in sections:
        parts.append(_LEN.pack(len(section)))
        parts.append(section)
    body_len = sum(len(p) for p in parts)
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, kind, body_len)
    mac = hmac_sha256(key, prefix, len(prefix) + body_len)
    for part in parts:
        mac.update(part)
    return b"".join([prefix, mac.digest(), *parts])


def open_sections(blob: bytes | bytearray | memoryview, key: bytes, kind: int) -> list[memoryview]:
    """Verify ``blob`` and return its sections as zero-copy views. Nothing is unpickled here."""
    check_key(key)
    what = KIND_NAMES[kind]
    view = memoryview(blob)
    if len(view) == 0:
        raise payload_error(f"the clustrix {what} is empty (0 bytes); the file was never written or was cut short")
    if len(view) < HEADER_LEN:
        if bytes(view[: len(MAGIC)]) != MAGIC[: len(view)]:
            raise payload_error(f"not a clustrix {what}: it does not start with {MAGIC!r} ({len(view)} bytes)")
        raise payload_error(
            f"truncated clustrix {what}: {len(view)} bytes, the header alone needs {HEADER_LEN}; "
            "the file was cut short (disk full, interrupted copy?)"
        )
    magic, version, got_kind, body_len = _PREFIX.unpack_from(view)
    if magic != MAGIC:
        raise payload_error(f"not a clustrix {what}: starts with {bytes(magic)!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise payload_error(
            f"clustrix {what} has format version {version} but this clustrix reads version "
            f"{FORMAT_VERSION}; install the same clustrix version on the client and the execution host"
        )
    body = view[HEADER_LEN:]
    if len(body) != body_len:
        raise payload_error(
            f"truncated clustrix {what}: header declares a {body_len}-byte body but {len(body)} bytes "
            "follow it; the file was cut short or appended to"
        )
    expected = hmac_sha256(key, view[: _PREFIX.size], _PREFIX.size + len(body))
    expected.update(body)
    if not compare_digest(expected.digest(), bytes(view[_PREFIX.size : HEADER_LEN])):
        raise payload_auth_error(
            f"HMAC check failed for a clustrix {what}: it was not written with this key (wrong key "
            "file, or the file was modified after it was written); it was not unpickled"
        )
    if got_kind != kind:
        got = KIND_NAMES.get(got_kind, f"kind {got_kind!r}")
        raise payload_error(f"expected a clustrix {what} but the file is a {got}")
    return _split_sections(body, what)


def _split_sections(body: memoryview, what: str) -> list[memoryview]:
    if len(body) < _COUNT.size:
        raise payload_error(f"malformed clustrix {what}: body too short for its section count")
    (count,) = _COUNT.unpack_from(body)
    offset = _COUNT.size
    sections = []
    for _ in range(count):
        if offset + _LEN.size > len(body):
            raise payload_error(f"malformed clustrix {what}: section table runs past the end")
        (length,) = _LEN.unpack_from(body, offset)
        offset += _LEN.size
        if offset + length > len(body):
            raise payload_error(f"malformed clustrix {what}: a section runs past the end")
        sections.append(body[offset : offset + length])
        offset += length
    if offset != len(body) or not sections:
        raise payload_error(f"malformed clustrix {what}: section table does not match the body")
    return sections


# --------------------------------------------------------------------------- key files (reading)


def decode_key(data: bytes, path: str) -> bytes:
    """The key held by a key file's bytes: ``KEY_BYTES`` raw bytes or their hex (plus whitespace)."""
    if len(data) == KEY_BYTES:  # raw bytes: never strip, whitespace bytes are key material
        return data
    text = data.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    raise key_file_error(
        f"key file {path} does not hold a clustrix key ({len(data)} bytes; expected "
        f"{2 * KEY_BYTES} hex characters or {KEY_BYTES} raw bytes); recreate it with "
        f"clustrix.payload.codec.write_key_file({path!r}, overwrite=True)"
    )


def read_key_file(path: str) -> bytes:
    """Read a key, refusing one that anybody else could have written or read.

    The file must be a regular file owned by this process's user with no group/other bits, in
    a directory owned by that user that nobody else can write (see
    :mod:`clustrix.payload.key_checks`). Raises :class:`~clustrix.errors.KeyFileError` naming
    the problem and its fix.
    """
    path = os.path.expanduser(path)
    directory = os.path.dirname(os.path.abspath(path))
    uid = os.geteuid()
    try:
        st = os.lstat(path)
        dir_st = os.stat(directory)
    except FileNotFoundError:
        raise key_file_error(
            f"key file {path} does not exist; create it with clustrix.payload.codec.write_key_file({path!r}) "
            "(the client normally writes it before submitting)"
        ) from None
    except OSError as exc:
        raise key_file_error(f"cannot stat key file {path}: {exc}") from exc
    problem = key_file_problem(path, st, uid) or key_dir_problem(directory, path, dir_st, uid)
    if problem is not None:
        raise key_file_error(problem)
    try:
        # O_NOFOLLOW and the inode check: the file read is the file checked, even if it was
        # swapped in between (O_NONBLOCK: a FIFO put there cannot hang the job).
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise key_file_error(f"cannot read key file {path}: {exc}") from exc
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(opened.st_mode):
            raise key_file_error(f"key file {path} was replaced while it was being read; try again, and "
                                 f"check who else can write {directory}")
        data = os.read(fd, 4 * KEY_BYTES + 2)
    except OSError as exc:
        raise key_file_error(f"cannot read key file {path}: {exc}") from exc
    finally:
        os.close(fd)
    return decode_key(data, path)


# --------------------------------------------------------------------------- atomic writes


def atomic_write(path: str, data: bytes | bytearray | memoryview, *, mode: int = 0o600,
                 durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename.

    Readers see either the old file or the complete new one, never a partial write; the file is
    created with ``mode`` (default 0600) regardless of the umask. ``durable=False`` skips the
    two fsyncs (~5 ms on a local disk): right for temporary files that only this machine reads
    and that are worthless after a crash (the local backend's job directories); a file another
    host reads (a shared filesystem) or that must survive a crash needs them.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed or (with mode > 0600) blocked bits
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
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
    if not durable:
        return
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
