"""HMAC key files: 32 random bytes, stored hex-encoded in a file only its owner can read.

The key file lives *outside* job directories, so whoever can write a job directory (a shared
scratch filesystem) cannot forge a result without also reading the key. Files are created with
``os.open(..., 0o600)`` (never a write-then-chmod window) and readers refuse a key that group or
others can read or write, naming the ``chmod`` that fixes it.
"""

from __future__ import annotations

import os
import secrets

from clustrix.errors import KeyFileError

# Reading lives in the job-side core (the runner reads keys without importing this module).
from clustrix.payload.format import KEY_BYTES, read_key_file
from clustrix.payload.format import decode_key as _decode

__all__ = ["KEY_BYTES", "KeyFileError", "ensure_key_file", "new_key", "read_key_file", "write_key_file"]

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def new_key() -> bytes:
    """Return a fresh random key (``KEY_BYTES`` bytes from the OS CSPRNG)."""
    return secrets.token_bytes(KEY_BYTES)


def _encode(key: bytes, encoding: str) -> bytes:
    if encoding == "hex":
        return key.hex().encode("ascii") + b"\n"
    if encoding == "raw":
        return bytes(key)
    raise ValueError(f"key file encoding must be 'hex' or 'raw', got {encoding!r}")


def write_key_file(
    path: str, key: bytes | None = None, *, overwrite: bool = False, encoding: str = "hex"
) -> bytes:
    """Write ``key`` (a new one if None) to ``path`` with mode 0600 and return it.

    The parent directory is created (0700) if missing. An existing file holding the same key is
    left alone; one holding a different key raises :class:`KeyFileError` unless ``overwrite``,
    because silently replacing a key orphans every job that was signed with the old one.
    """
    if key is None:
        key = new_key()
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
        raise KeyFileError(f"a clustrix key is {KEY_BYTES} bytes (see new_key()), got {key!r:.40}")
    key = bytes(key)
    path = os.path.expanduser(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, mode=0o700, exist_ok=True)
    data = _encode(key, encoding)
    if os.path.lexists(path):
        try:
            with open(path, "rb") as fh:
                existing = fh.read(4 * KEY_BYTES + 2)
            same = _decode(existing, path) == key
        except (OSError, KeyFileError):
            same = False
        if same:
            os.chmod(path, 0o600)
            return key
        if not overwrite:
            raise KeyFileError(
                f"key file {path} already holds a different key; pass overwrite=True to replace it "
                "(jobs signed with the old key can then no longer be read) or use ensure_key_file()"
            )
        tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        _create(tmp, data)
        os.replace(tmp, path)
        return key
    _create(path, data)
    return key


def ensure_key_file(path: str) -> bytes:
    """Return the key stored at ``path``, creating the file with a new key if it is missing."""
    path = os.path.expanduser(path)
    if os.path.lexists(path):
        return read_key_file(path)
    try:
        return write_key_file(path)
    except FileExistsError:  # another process created it between our check and our write
        return read_key_file(path)


def _create(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
