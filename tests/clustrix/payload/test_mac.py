"""clustrix.payload.mac: the built-in HMAC-SHA256 gives the standard's bytes, and is chosen only
where it is the cheaper one."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys

import pytest

from clustrix.payload import mac

# RFC 4231 section 4 test cases 1-4, 6, 7 (case 5 truncates the output, which clustrix never does).
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data. "
     b"The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


@pytest.mark.skipif(mac._builtin_sha256 is None, reason="this CPython was built without its own SHA-256 module")
@pytest.mark.parametrize(("key", "msg", "expected"), RFC4231)
def test_builtin_hmac_matches_rfc4231(key, msg, expected):
    assert mac._BuiltinHmac(key, msg).digest().hex() == expected
    # Fed in pieces, as seal() and open_sections() feed it; digest() may be asked twice.
    streamed = mac._BuiltinHmac(key, msg[:3])
    streamed.update(memoryview(msg)[3:])
    assert streamed.digest().hex() == expected == streamed.digest().hex()


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 1000, 70_000])
def test_both_paths_agree_with_the_standard_hmac(size):
    key, data = b"k" * 32, bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    want = hmac.new(key, data, hashlib.sha256).digest()
    assert mac.hmac_sha256(key, data, size).digest() == want  # OpenSSL is loaded in this process
    if mac._builtin_sha256 is not None:
        assert mac._BuiltinHmac(key, data).digest() == want


def test_small_inputs_do_not_load_openssl_and_large_ones_do():
    """In a fresh interpreter (a job's): a small MAC leaves _hashlib unloaded; past the threshold
    or once OpenSSL is loaded, the standard hmac is used."""
    script = (
        "import sys\n"
        "from clustrix.payload import mac\n"
        "small = mac.hmac_sha256(b'k' * 32, b'x' * 100, 100)\n"
        "print(type(small).__name__, '_hashlib' in sys.modules)\n"
        "big = mac.hmac_sha256(b'k' * 32, b'', mac.BUILTIN_MAX_BYTES + 1)\n"
        "print(type(big).__name__, '_hashlib' in sys.modules)\n"
        "again = mac.hmac_sha256(b'k' * 32, b'x', 1)\n"
        "print(type(again).__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    if mac._builtin_sha256 is None:
        pytest.skip("this CPython was built without its own SHA-256 module")
    assert proc.stdout.splitlines() == ["_BuiltinHmac False", "HMAC True", "HMAC"]


def test_compare_digest_is_the_standard_librarys_constant_time_comparison():
    import _operator

    # What hmac.compare_digest is when CPython has no OpenSSL; both compare in constant time.
    assert mac.compare_digest is _operator._compare_digest
    assert mac.compare_digest(b"a" * 32, b"a" * 32)
    assert not mac.compare_digest(b"a" * 32, b"a" * 31 + b"b")
