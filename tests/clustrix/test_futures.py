"""JobFuture: the Future state machine with job cancellation, status and output.

The handle here is a small real implementation of the JobHandle protocol (a pure seam); the
backends' handles are exercised with real processes in test_local*.py.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from clustrix.errors import JobCancelledError, JobTimeoutError
from clustrix.futures import JobFuture, JobHandle
from clustrix.payload.codec import ResultEnvelope
from clustrix.states import JobState, JobStatus

DEADLINE_S = 30


class Handle:
    def __init__(self, can_cancel=True):
        self.can_cancel = can_cancel
        self.cancel_calls = 0
        self.state = JobState.PENDING

    def cancel(self):
        self.cancel_calls += 1
        return self.can_cancel

    def status(self):
        return JobStatus(self.state, raw="R" if self.state == JobState.RUNNING else "PD")

    def stdout(self):
        return "live out"

    def stderr(self):
        return "live err"


def test_handle_satisfies_protocol():
    assert isinstance(Handle(), JobHandle)


def test_value_status_and_output_from_envelope():
    handle = Handle()
    fut = JobFuture("j1", handle)
    assert fut.status.state == JobState.PENDING and fut.stdout() == "live out" and fut.stderr() == "live err"
    handle.state = JobState.RUNNING
    assert fut.mark_running() and fut.running()
    assert fut.status.raw == "R"
    assert fut.set_envelope(ResultEnvelope(ok=True, value=42, stdout="o", stderr="e"))
    assert fut.result(timeout=DEADLINE_S) == 42
    assert fut.status.state == JobState.COMPLETED
    assert (fut.stdout(), fut.stderr()) == ("o", "e")
    assert fut.envelope is not None and fut.envelope.value == 42
    assert not fut.set_envelope(ResultEnvelope(ok=True, value=1))  # already done: ignored
    assert fut.result() == 42


def test_result_timeout_raises_timeouterror():
    fut = JobFuture("j", Handle())
    with pytest.raises(TimeoutError):
        fut.result(timeout=0.01)
    with pytest.raises(cf.TimeoutError):
        fut.exception(timeout=0.01)


@pytest.mark.parametrize("running", [False, True])
def test_cancel_pending_or_running_job(running):
    handle = Handle()
    fut = JobFuture("j7", handle)
    if running:
        fut.mark_running()
    called = []
    fut.add_done_callback(called.append)
    assert fut.cancel() is True
    assert fut.cancelled() and fut.done() and not fut.running()
    assert called == [fut]
    assert fut.status.state == JobState.CANCELLED
    with pytest.raises(JobCancelledError, match="j7") as info:
        fut.result(timeout=DEADLINE_S)
    assert isinstance(info.value, cf.CancelledError)
    with pytest.raises(JobCancelledError):
        fut.exception()
    assert fut.cancel() is True and handle.cancel_calls == 1  # idempotent, asks once
    assert not fut.set_envelope(ResultEnvelope(ok=True, value=1))  # backend racing: no error
    assert not fut.set_job_error(RuntimeError("late"))


def test_cancel_refused_by_handle_or_after_completion():
    fut = JobFuture("j", Handle(can_cancel=False))
    fut.mark_running()
    assert fut.cancel() is False and not fut.cancelled() and fut.running()
    done = JobFuture("k", Handle())
    done.set_result(3)
    assert done.cancel() is False and done.result() == 3


def test_wait_and_as_completed_see_cancelled_and_finished_futures():
    a, b, c = JobFuture("a", Handle()), JobFuture("b", Handle()), JobFuture("c", Handle())
    for f in (a, b, c):
        f.mark_running()

    def finish_later():
        b.set_envelope(ResultEnvelope(ok=True, value="b"))
        a.cancel()

    seen = []
    timer = threading.Timer(0.05, finish_later)
    timer.start()
    try:
        for f in cf.as_completed([a, b], timeout=DEADLINE_S):
            seen.append(f)
    finally:
        timer.join(DEADLINE_S)
    assert set(seen) == {a, b}
    done, not_done = cf.wait([a, b, c], timeout=0.01)
    assert done == {a, b} and not_done == {c}
    c.cancel()
    done, not_done = cf.wait([c], timeout=DEADLINE_S)
    assert done == {c}


def test_error_envelope_and_job_errors_set_status():
    fut = JobFuture("e", Handle())
    try:
        raise KeyError("x")
    except KeyError as exc:
        from clustrix.payload.result import exception_envelope

        env = exception_envelope(exc, "remote tb")
    fut.set_envelope(env)
    with pytest.raises(KeyError):
        fut.result()
    assert fut.status.state == JobState.FAILED and fut.status.raw == "EXCEPTION"
    t = JobFuture("t", Handle())
    t.set_job_error(JobTimeoutError("too long", job_id="t", state="TIMEOUT", exit_code=-15))
    assert t.status.state == JobState.TIMEOUT and t.status.exit_code == -15
    assert t.stdout() == "live out"  # no envelope: output comes from the handle


def test_future_without_handle_reports_its_own_state():
    fut = JobFuture("x")
    assert fut.status.state == JobState.PENDING and fut.stdout() == ""
    fut.mark_running()
    assert fut.status.state == JobState.RUNNING
    assert fut.cancel() is True and fut.cancelled()
