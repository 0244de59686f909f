"""LocalBackend in threads mode, and DebugBackend (in-process, synchronous)."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from clustrix.backends.base import Backend
from clustrix.backends.local.backend import DebugBackend, LocalBackend
from clustrix.config.profile import Profile
from clustrix.errors import JobCancelledError, JobTimeoutError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec, Resources
from clustrix.states import JobState

DEADLINE_S = 30
SPEC = JobSpec(name="test")
RAISED: list[BaseException] = []


def where(x):
    print("hello from", x)
    print("warn", x, file=sys.stderr)
    return os.getpid(), threading.get_ident(), x


def raise_recorded():
    exc = KeyError("x")
    RAISED.append(exc)
    raise exc


def threads_backend(workers=2):
    return LocalBackend(Profile(max_workers=workers, local_mode="threads"))


def test_threads_mode_runs_in_this_process_with_captured_output():
    b = threads_backend()
    try:
        futs = [b.submit(Call(where, (i,)), SPEC) for i in range(3)]
        results = [f.result(timeout=DEADLINE_S) for f in futs]
    finally:
        b.shutdown()
    assert isinstance(b, Backend)
    assert {pid for pid, _, _ in results} == {os.getpid()}
    assert all(tid != threading.get_ident() for _, tid, _ in results)
    assert [f.stdout() for f in futs] == [f"hello from {i}\n" for i in range(3)]
    assert futs[1].stderr() == "warn 1\n"
    assert futs[0].status.state == JobState.COMPLETED


def test_threads_mode_exception_is_the_original_object():
    b = threads_backend()
    try:
        fut = b.submit(Call(raise_recorded), SPEC)
        with pytest.raises(KeyError) as info:
            fut.result(timeout=DEADLINE_S)
    finally:
        b.shutdown()
    assert info.value is RAISED[-1]


def test_threads_mode_cap_queue_cancel_and_timeout():
    b = threads_backend(workers=1)
    release = threading.Event()
    ran = []
    try:
        first = b.submit(Call(release.wait, (DEADLINE_S,)), JobSpec(name="t", resources=Resources(time_s=1)))
        second = b.submit(Call(ran.append, ("second",)), SPEC)
        assert second.cancel() is True and second.cancelled()
        end = time.monotonic() + DEADLINE_S
        while not first.running():
            assert time.monotonic() < end, "first job never started"
            time.sleep(0.01)
        # The running thread cannot be killed: cancel() says so, and the limit fails the future.
        assert first.cancel() is False
        with pytest.raises(JobTimeoutError, match="cannot be killed"):
            first.result(timeout=DEADLINE_S)
        assert first.status.state == JobState.TIMEOUT
    finally:
        release.set()
        b.shutdown()
    assert ran == []
    with pytest.raises(JobCancelledError):
        second.result(timeout=DEADLINE_S)


def test_threads_mode_live_output_while_running():
    b = threads_backend(workers=1)
    release = threading.Event()

    def talk():
        print("partial")
        release.wait(DEADLINE_S)
        return "done"

    try:
        fut = b.submit(Call(talk), SPEC)
        end = time.monotonic() + DEADLINE_S
        while fut.stdout() != "partial\n":
            assert time.monotonic() < end, "no live output"
            time.sleep(0.01)
        assert fut.running()
        release.set()
        assert fut.result(timeout=DEADLINE_S) == "done"
    finally:
        release.set()
        b.shutdown()


def test_debug_backend_runs_synchronously_in_the_calling_thread():
    b = DebugBackend(Profile(backend="debug"))
    assert isinstance(b, Backend)
    fut = b.submit(Call(where, ("dbg",)), SPEC)
    assert fut.done() and fut.job_id == "debug-1"
    pid, tid, _ = fut.result(timeout=0)
    assert (pid, tid) == (os.getpid(), threading.get_ident())
    assert fut.stdout() == "hello from dbg\n" and fut.stderr() == "warn dbg\n"
    assert fut.cancel() is False


def test_debug_backend_raises_the_original_exception_object():
    b = DebugBackend(Profile(backend="debug"))
    fut = b.submit(Call(raise_recorded), SPEC)
    with pytest.raises(KeyError) as info:
        fut.result(timeout=0)
    assert info.value is RAISED[-1]
    assert info.value.__traceback__ is not None
    assert fut.status.state == JobState.FAILED


def test_debug_backend_array_and_shutdown():
    b = DebugBackend()
    futs = b.submit_array(where, [((i,), {}) for i in range(3)], SPEC)
    assert [f.result(timeout=0)[2] for f in futs] == [0, 1, 2]
    b.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        b.submit(Call(where, (1,)), SPEC)


def test_capture_restores_sys_stdout():
    before = sys.stdout
    DebugBackend().submit(Call(print, ("x",)), SPEC)
    assert sys.stdout is before
