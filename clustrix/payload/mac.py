"""HMAC-SHA256 of the signed envelope, without loading OpenSSL for small files.

:mod:`hmac` imports :mod:`hashlib`, which loads OpenSSL's ``_hashlib`` and ``_blake2``: about
4.5 ms of every job's start, when a job's payload and result are usually a few kilobytes. For
those, the MAC is computed here with CPython's own SHA-256 (``_sha256``, ``_sha2`` from 3.12),
following RFC 2104 exactly as :mod:`hmac`'s pure-Python path does. It hashes at about a seventh of
OpenSSL's speed, so from :data:`BUILTIN_MAX_BYTES` on (where OpenSSL's import has paid for itself),
or when OpenSSL is already loaded, or where CPython was built without its own SHA-256, the
standard :mod:`hmac` is used. Both give the same bytes (a test holds them to RFC 4231's vectors).
"""

from __future__ import annotations

import sys
from _operator import _compare_digest as compare_digest  # what hmac.compare_digest is

try:
    from _sha256 import sha256 as _builtin_sha256  # CPython <= 3.11
except ImportError:  # pragma: no cover - depends on the interpreter
    try:
        from _sha2 import sha256 as _builtin_sha256  # CPython >= 3.12
    except ImportError:
        _builtin_sha256 = None

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BUILTIN_MAX_BYTES", "DIGEST_SIZE", "compare_digest", "hmac_sha256"]

BUILTIN_MAX_BYTES = 1 << 20
"""Up to this many bytes to authenticate, and while OpenSSL is not loaded, the built-in SHA-256 is used."""

DIGEST_SIZE = 32
_BLOCK = 64
_OUTER_PAD = bytes(x ^ 0x5C for x in range(256))
_INNER_PAD = bytes(x ^ 0x36 for x in range(256))


class _BuiltinHmac:
    """RFC 2104 HMAC over the built-in SHA-256; ``update``/``digest`` as :class:`hmac.HMAC`."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, msg: bytes | memoryview):
        if len(key) > _BLOCK:
            key = _builtin_sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._outer = _builtin_sha256(key.translate(_OUTER_PAD))
        self._inner = _builtin_sha256(key.translate(_INNER_PAD))
        self._inner.update(msg)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._inner.update(data)

    def digest(self) -> bytes:
        outer = self._outer.copy()
        outer.update(self._inner.digest())
        return outer.digest()


def hmac_sha256(key: bytes, msg: bytes | memoryview, total_bytes: int) -> Any:
    """A new HMAC-SHA256 over ``msg``; ``total_bytes`` is how much will be fed in all (``msg`` and
    the later ``update`` calls), which picks the implementation (see the module docstring)."""
    if _builtin_sha256 is not None and total_bytes <= BUILTIN_MAX_BYTES and "_hashlib" not in sys.modules:
        return _BuiltinHmac(bytes(key), msg)
    import hashlib
    import hmac

    return hmac.new(bytes(key), msg, hashlib.sha256)
