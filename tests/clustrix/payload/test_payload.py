"""Payload format, HMAC authentication, key files and result envelopes (no subprocesses here)."""

from __future__ import annotations

import dataclasses
import os
import pickle
import stat
import sys

import cloudpickle
import pytest

from clustrix.errors import PayloadAuthError, PayloadError, RemoteError
from clustrix.payload.codec import (
    HEADER_LEN,
    Call,
    KeyFileError,
    RemoteTraceback,
    ResultEnvelope,
    atomic_write,
    dump_array,
    dump_call,
    dump_result,
    ensure_key_file,
    load_array,
    load_call,
    load_result,
    new_key,
    read_key_file,
    write_key_file,
)
from clustrix.payload.result import exception_envelope

KEY = bytes(range(32))


def make_adder(n):
    def add(x, *, scale=1):
        return (x + n) * scale

    return add


class Touch:
    """Unpickling this creates a file: proves whether a payload was ever unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_call_round_trip_lambdas_closures_nested_functions():
    def outer(y):
        def inner(z):
            return y * z

        return inner

    calls = [
        Call(lambda a, b=2: a ** b, (3,), {"b": 3}),
        Call(make_adder(10), (5,), {"scale": 2}),
        Call(outer(7), (6,)),
    ]
    assert [load_call(dump_call(c, KEY), KEY).run() for c in calls] == [27, 30, 42]


def test_array_round_trip_loads_chunks_lazily():
    blob = dump_array(lambda a, k=0: a + k, [[((1,), {}), ((2,), {"k": 10})], [((3,), {})]], KEY)
    opened = load_array(blob, KEY)
    assert opened.chunk_sizes == (2, 1)
    fn = opened.load_fn()
    assert [fn(*a, **kw) for a, kw in opened.load_chunk(0)] == [1, 12]
    assert [fn(*a, **kw) for a, kw in opened.load_chunk(1)] == [3]
    with pytest.raises(IndexError, match="chunks 0..1"):
        opened.load_chunk(2)


def test_array_rejects_bad_items_and_empty_chunks():
    with pytest.raises(TypeError, match="chunk 0 item 1"):
        dump_array(print, [[((1,), {}), (1, 2)]], KEY)
    with pytest.raises(ValueError, match="chunk 1 is empty"):
        dump_array(print, [[((1,), {})], []], KEY)


def test_large_value_round_trips():
    big = os.urandom(48 * 1024 * 1024)
    blob = dump_result([ResultEnvelope(ok=True, value=big)], KEY)
    assert load_result(blob, KEY)[0].unwrap() == big


def test_marker_payload_is_unpickled_when_authentic(tmp_path):
    """Control for the tamper tests: the marker really appears when the payload is unpickled."""
    marker = tmp_path / "unpickled"
    load_call(dump_call(Call(print, (Touch(str(marker)),)), KEY), KEY)
    assert marker.exists()


@pytest.mark.parametrize("where", [0, 9, 10, 20, HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 30, -1])
def test_any_flipped_byte_is_rejected_before_unpickling(tmp_path, where):
    marker = tmp_path / "unpickled"
    blob = bytearray(dump_call(Call(print, (Touch(str(marker)),)), KEY))
    blob[where] ^= 0x01
    with pytest.raises(PayloadError):
        load_call(bytes(blob), KEY)
    assert not marker.exists()


def test_flipped_body_byte_is_an_auth_error(tmp_path):
    marker = tmp_path / "unpickled"
    blob = bytearray(dump_call(Call(print, (Touch(str(marker)),)), KEY))
    blob[-5] ^= 0xFF
    with pytest.raises(PayloadAuthError, match="HMAC check failed"):
        load_call(bytes(blob), KEY)
    assert not marker.exists()


def test_wrong_key_is_an_auth_error(tmp_path):
    marker = tmp_path / "unpickled"
    blob = dump_call(Call(print, (Touch(str(marker)),)), KEY)
    with pytest.raises(PayloadAuthError):
        load_call(blob, new_key())
    assert not marker.exists()


def test_truncated_and_garbage_files_say_so():
    blob = dump_call(Call(print, ("x" * 1000,)), KEY)
    with pytest.raises(PayloadError, match="truncated") as info:
        load_call(blob[:-10], KEY)
    assert not isinstance(info.value, PayloadAuthError)
    with pytest.raises(PayloadError, match="truncated.*header"):
        load_call(blob[:20], KEY)
    with pytest.raises(PayloadError, match="not a clustrix"):
        load_call(b"\x80\x05garbage that is long enough to pass the header length check....", KEY)
    with pytest.raises(PayloadError, match="is empty"):
        load_call(b"", KEY)


def test_kind_and_version_mismatches_are_explained():
    result = dump_result([ResultEnvelope(ok=True, value=1)], KEY)
    with pytest.raises(PayloadError, match="expected a clustrix call payload but the file is a result"):
        load_call(result, KEY)
    call = dump_call(Call(print), KEY)
    with pytest.raises(PayloadError, match="single-call payload"):
        load_array(call, KEY)
    bumped = bytearray(call)
    bumped[8] = 99
    with pytest.raises(PayloadError, match="format version 99"):
        load_call(bytes(bumped), KEY)


def test_short_keys_are_refused():
    with pytest.raises(PayloadError, match="new_key"):
        dump_call(Call(print), b"short")


# ---------------------------------------------------------------- key files


def test_key_file_round_trip_modes_and_parent(tmp_path):
    path = tmp_path / "secret" / "dir" / "hmac.key"
    key = write_key_file(str(path))
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_key_file(str(path)) == key
    assert path.read_text().strip() == key.hex()


def test_key_file_refuses_to_replace_a_different_key(tmp_path):
    path = str(tmp_path / "k")
    key = write_key_file(path)
    assert write_key_file(path, key) == key  # same key: fine
    with pytest.raises(KeyFileError, match="different key.*overwrite=True"):
        write_key_file(path)
    other = write_key_file(path, overwrite=True)
    assert other != key and read_key_file(path) == other
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_raw_key_files_are_read(tmp_path):
    path = str(tmp_path / "raw")
    key = b" \n" + bytes(30)  # whitespace bytes are key material in a raw file
    write_key_file(path, key, encoding="raw")
    assert read_key_file(path) == key


def test_permissive_key_file_names_the_fix(tmp_path):
    path = str(tmp_path / "k")
    write_key_file(path)
    os.chmod(path, 0o640)
    with pytest.raises(KeyFileError, match=f"mode 0640.*chmod 600 {path}"):
        read_key_file(path)


def test_missing_and_malformed_key_files(tmp_path):
    with pytest.raises(KeyFileError, match="does not exist"):
        read_key_file(str(tmp_path / "nope"))
    bad = tmp_path / "bad"
    bad.write_text("not a key\n")
    os.chmod(bad, 0o600)
    with pytest.raises(KeyFileError, match="64 hex characters"):
        read_key_file(str(bad))


def test_ensure_key_file_creates_once(tmp_path):
    path = str(tmp_path / "k")
    first = ensure_key_file(path)
    assert ensure_key_file(path) == first


def test_atomic_write_mode_ignores_umask(tmp_path):
    old = os.umask(0)
    try:
        atomic_write(str(tmp_path / "f"), b"data")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600
    assert (tmp_path / "f").read_bytes() == b"data"
    assert os.listdir(tmp_path) == ["f"]  # no temp file left behind


@pytest.mark.parametrize("durable,syncs", [(True, 2), (False, 0)])
def test_atomic_write_syncs_file_and_directory_unless_told_not_to(tmp_path, monkeypatch, durable, syncs):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    atomic_write(str(tmp_path / "f"), b"old")
    synced.clear()
    atomic_write(str(tmp_path / "f"), b"new", durable=durable)
    assert len(synced) == syncs
    assert (tmp_path / "f").read_bytes() == b"new" and os.listdir(tmp_path) == ["f"]
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600


# ---------------------------------------------------------------- envelopes


def raise_and_envelope(exc):
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        import traceback

        return exception_envelope(caught, "".join(traceback.format_exception(caught)))


def through_file(env):
    return load_result(dump_result([env], KEY), KEY)[0]


def test_unwrap_reraises_original_type_with_remote_traceback():
    env = through_file(raise_and_envelope(KeyError("x")))
    with pytest.raises(KeyError) as info:
        env.unwrap()
    exc = info.value
    assert exc.args == ("x",)
    assert isinstance(exc.__cause__, RemoteTraceback)
    assert str(exc.__cause__) == env.remote_traceback
    assert "raise_and_envelope" in env.remote_traceback
    if sys.version_info >= (3, 11):
        assert exc.__notes__ == ["Remote traceback:\n" + env.remote_traceback.rstrip()]


class NeedsTwo(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


def test_exception_that_cannot_unpickle_becomes_remote_error():
    env = through_file(raise_and_envelope(NeedsTwo(1, 2)))
    assert env.exc_pickle is None
    with pytest.raises(RemoteError) as info:
        env.unwrap()
    assert info.value.type_name.endswith("NeedsTwo")
    assert info.value.remote_message == "1/2"
    assert "raise_and_envelope" in info.value.remote_traceback


def test_exception_class_missing_here_becomes_remote_error(tmp_path, monkeypatch):
    (tmp_path / "gone_mod_h3.py").write_text("class GoneError(Exception):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import gone_mod_h3

    env = raise_and_envelope(gone_mod_h3.GoneError("bye"))
    assert env.exc_pickle is not None
    monkeypatch.delitem(sys.modules, "gone_mod_h3")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    with pytest.raises(RemoteError, match="gone_mod_h3.GoneError: bye"):
        env.unwrap()


def test_unpicklable_value_becomes_a_reported_error():
    import threading

    blob = dump_result([ResultEnvelope(ok=True, value=threading.Lock(), stdout="hi")], KEY)
    env = load_result(blob, KEY)[0]
    assert not env.ok and env.stdout == "hi"
    with pytest.raises(PayloadError, match="cannot be pickled"):
        env.unwrap()


def test_item_whose_value_class_is_missing_does_not_poison_others(tmp_path, monkeypatch):
    (tmp_path / "val_mod_h3.py").write_text("class Box:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import val_mod_h3

    blob = dump_result([ResultEnvelope(ok=True, value=val_mod_h3.Box()), ResultEnvelope(ok=True, value=2)], KEY)
    monkeypatch.delitem(sys.modules, "val_mod_h3")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    first, second = load_result(blob, KEY)
    with pytest.raises(PayloadError, match="item 0 cannot be unpickled.*val_mod_h3"):
        first.unwrap()
    assert second.unwrap() == 2


def test_garbage_exception_pickle_becomes_remote_error():
    env = ResultEnvelope(ok=False, exc_type="pkg.Weird", exc_message="m", exc_pickle=pickle.dumps(3),
                         remote_traceback="tb text")
    with pytest.raises(RemoteError, match="pkg.Weird: m"):
        env.unwrap()


# --------------------------------------------------------------------------- light value types
# ResultEnvelope and Call are plain slotted classes (clustrix.payload.records) so the job-side runner does
# not import dataclasses; they must still behave like the frozen dataclasses they replace.


def test_result_envelope_behaves_like_a_frozen_dataclass():
    env = ResultEnvelope(True, 5, stdout="out", pid=7)
    assert env == ResultEnvelope(ok=True, value=5, stdout="out", pid=7)
    assert env != ResultEnvelope(ok=True, value=6, stdout="out", pid=7)
    assert env != ("not", "an", "envelope")
    assert hash(env) == hash(ResultEnvelope(ok=True, value=5, stdout="out", pid=7))
    assert repr(env) == (
        "ResultEnvelope(ok=True, value=5, exc_type='', exc_message='', exc_pickle=None, "
        "remote_traceback='', stdout='out', stderr='', host='', pid=7, started=0.0, ended=0.0)"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.value = 6
    with pytest.raises(dataclasses.FrozenInstanceError):
        del env.ok
    with pytest.raises(TypeError):
        ResultEnvelope()  # ok is required, as before
    with pytest.raises(TypeError):
        hash(ResultEnvelope(ok=True, value=[1]))  # like a frozen dataclass: hashes its fields
    assert ResultEnvelope(ok=True, started=1.0, ended=3.5).duration_s == 2.5


def test_call_behaves_like_a_frozen_dataclass():
    call = Call(sorted, [[1, 3, 2]], {"reverse": True})
    assert call.args == ([1, 3, 2],) and call.kwargs == {"reverse": True}  # normalised, as before
    assert call == Call(fn=sorted, args=([1, 3, 2],), kwargs={"reverse": True}) and call.run() == [3, 2, 1]
    assert repr(Call(max)) == "Call(fn=<built-in function max>, args=(), kwargs={})"
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.fn = min
    with pytest.raises(TypeError, match="must be callable, got 3"):
        Call(3)


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_envelope_and_call_pickle_round_trip(dumps):
    env = ResultEnvelope(ok=False, exc_type="KeyError", exc_pickle=b"x", host="h", ended=2.0)
    assert pickle.loads(dumps(env)) == env
    call = pickle.loads(dumps(Call(make_adder, (1,))))
    assert isinstance(call, Call) and call.run()(2, scale=3) == 9


_ENVELOPE_FIELDS = ["ok", "value", "exc_type", "exc_message", "exc_pickle", "remote_traceback", "stdout",
                   "stderr", "host", "pid", "started", "ended"]
# Frozen dataclasses shaped like the classes of the release before (pickled, then renamed).
_OldResultEnvelope = dataclasses.make_dataclass("_OldResultEnvelope", _ENVELOPE_FIELDS, frozen=True)
_OldCall = dataclasses.make_dataclass("_OldCall", ["fn", "args", "kwargs"], frozen=True)
_OldResultEnvelope.__module__ = _OldCall.__module__ = __name__  # make_dataclass says "types" on 3.11


def _as_dataclass_era_pickle(old, new_cls):
    """Pickle ``old`` (protocol 2: NEWOBJ, then its field dict) as if it were a ``new_cls``."""
    blob = pickle.dumps(old, protocol=2)
    ref = f"c{__name__}\n{type(old).__name__}\n".encode()
    assert blob.count(ref) == 1
    return blob.replace(ref, f"c{new_cls.__module__}\n{new_cls.__qualname__}\n".encode())


def test_pickles_from_the_dataclass_era_still_load():
    """Results or payloads written by a release where these classes were dataclasses."""
    values = [True, [1, 2], "", "", None, "", "o", "", "h", 3, 1.0, 2.0]
    env = pickle.loads(_as_dataclass_era_pickle(_OldResultEnvelope(*values), ResultEnvelope))
    assert env == ResultEnvelope(*values) and env.value == [1, 2] and env.ended == 2.0
    call = pickle.loads(_as_dataclass_era_pickle(_OldCall(max, (4, 9), {}), Call))
    assert isinstance(call, Call) and call.run() == 9


def test_results_pickle_plain_data_without_cloudpickle_and_the_rest_with_it():
    from clustrix.payload.result import dumps_portable

    def local_fn(x):
        return x * 2

    # (Which pickler runs in a process without cloudpickle is checked in test_runner_imports.py.)
    assert pickle.loads(dumps_portable({"a": (1, 2.5)})) == {"a": (1, 2.5)}
    for value in (local_fn, lambda x: x * 2):  # plain pickle refuses these: cloudpickle takes them
        assert pickle.loads(dumps_portable(value))(21) == 42
    blob = dump_result([ResultEnvelope(ok=True, value=local_fn)], KEY)
    assert load_result(blob, KEY)[0].unwrap()(4) == 8
