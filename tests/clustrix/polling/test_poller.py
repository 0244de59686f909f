"""The poller state machine, driven tick by tick with an injected clock (no sleeping).

The status source and file fetcher are fakes at the pure seam: they return what a scheduler and a
filesystem would, and record every call so the tests can count round trips.
"""

from __future__ import annotations

import threading
import time

import pytest
from poller_fakes import Clock, FakeSource, Outcomes

from clustrix.errors import (
    CommandError,
    JobCancelledError,
    JobError,
    JobFailedError,
    JobLostError,
    JobOutOfMemoryError,
    JobTimeoutError,
    StatusQueryError,
    TransportError,
)
from clustrix.polling.poller import Poller, PollerConfig
from clustrix.polling.resolution import GracePolicy, ResultReady
from clustrix.states import JobState, JobStatus

R = JobStatus(JobState.RUNNING, "RUNNING")
PD = JobStatus(JobState.PENDING, "PENDING")
CD = JobStatus(JobState.COMPLETED, "COMPLETED", exit_code=0)


class FakeFiles:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.calls: list[list[str]] = []
        self.fail_next = 0

    def get_files(self, paths):
        self.calls.append(list(paths))
        if self.fail_next:
            self.fail_next -= 1
            raise TransportError("connection dropped", host="h")
        return {p: self.files.get(p) for p in paths}


GRACE = GracePolicy(result_grace_s=10, missing_grace_s=30)


def make(grace=GRACE, **kw):
    clock, source, files, out = Clock(), FakeSource(**kw), FakeFiles(), Outcomes()
    config = PollerConfig(interval_s=1.0, max_interval_s=8.0, backoff=2.0, grace=grace,
                          max_transient_failures=3, max_hard_failures=2)
    poller = Poller(source, files, config, clock=clock, sleep=lambda s: None)
    poller._ensure_thread = lambda: None  # these tests drive tick() themselves
    return clock, source, files, out, poller


def test_one_batched_status_command_and_one_bulk_fetch_per_tick():
    clock, source, files, out, poller = make()
    poller.watch([out.watch(k) for k in ("1", "2", "3")])
    source.statuses = {"1": CD, "2": CD, "3": R}
    files.files = {"/j/1/result.pkl": b"r1", "/j/2/result.pkl": b"r2"}
    poller.tick()
    assert source.queries == [["1", "2", "3"]]
    assert len(files.calls) == 1 and set(files.calls[0]) == {
        f"/j/{k}/{f}" for k in ("1", "2") for f in ("result.pkl", "exit_code", "stderr.log")}
    assert out.done == {"1": ResultReady(b"r1"), "2": ResultReady(b"r2")}
    assert poller.live_keys() == ["3"]
    poller.tick()
    assert source.queries[-1] == ["3"] and len(files.calls) == 1  # running job: no file traffic


def test_array_tasks_query_base_id_once():
    clock, source, files, out, poller = make()
    poller.watch([out.watch(f"9_{i}", "9") for i in range(4)])
    source.statuses = {f"9_{i}": PD for i in range(4)}
    poller.tick()
    assert source.queries == [["9"]]


def test_backoff_grows_and_resets_on_change():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": PD}
    delays = [poller.tick() for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    source.statuses = {"1": R}
    assert poller.tick() == 1.0
    assert out.statuses["1"] == [JobState.PENDING, JobState.RUNNING]
    assert poller.tick() == 2.0


def test_completed_without_result_waits_grace_then_fails():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": CD}
    poller.tick()
    clock.t += 5
    assert poller.tick() == 1.0  # within grace: fast re-check
    assert "1" not in out.done
    files.files["/j/1/result.pkl"] = b"late"  # NFS lag over
    poller.tick()
    assert out.done["1"] == ResultReady(b"late")


def test_completed_without_result_after_grace_is_failure_with_stderr():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": CD}
    files.files["/j/1/stderr.log"] = b"line1\nModuleNotFoundError: no module named foo\n"
    poller.tick()
    clock.t += 11
    poller.tick()
    err = out.done["1"].error
    assert isinstance(err, JobFailedError)
    assert "no module named foo" in str(err).lower() and "filesystem the compute nodes share" in str(err)


@pytest.mark.parametrize(("state", "error"), [
    (JobState.TIMEOUT, JobTimeoutError),
    (JobState.OUT_OF_MEMORY, JobOutOfMemoryError),
    (JobState.CANCELLED, JobCancelledError),
])
def test_killed_states_fail_at_once(state, error):
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": JobStatus(state, state.value, reason="x")}
    files.files["/j/1/stderr.log"] = b"slurmstepd: error: *** JOB 1 CANCELLED ***\n"
    poller.tick()
    err = out.done["1"].error
    assert type(err) is error and err.job_id == "1" and "slurmstepd" in err.stderr_tail


def test_result_wins_over_failure_state():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": JobStatus(JobState.TIMEOUT, "TIMEOUT")}
    files.files["/j/1/result.pkl"] = b"value"
    poller.tick()
    assert out.done["1"] == ResultReady(b"value")


def test_missing_job_with_result_resolves_immediately():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    files.files["/j/1/result.pkl"] = b"v"
    poller.tick()  # purged from the queue before the first poll
    assert out.done["1"] == ResultReady(b"v")


def test_missing_job_nonzero_sentinel_fails_with_exit_code():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    files.files["/j/1/exit_code"] = b"3\n"
    poller.tick()
    err = out.done["1"].error
    assert isinstance(err, JobFailedError) and err.exit_code == 3


def test_missing_job_without_sentinel_is_lost_after_grace():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": R}
    poller.tick()
    source.statuses = {}
    poller.tick()
    clock.t += 29
    poller.tick()
    assert "1" not in out.done
    clock.t += 2
    poller.tick()
    assert isinstance(out.done["1"].error, JobLostError)


def test_missing_job_reappearing_resets_grace():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    poller.tick()  # missing (sacct lag right after submit)
    clock.t += 20
    source.statuses = {"1": PD}
    poller.tick()
    source.statuses = {}
    clock.t += 20
    poller.tick()
    assert "1" not in out.done  # grace restarted when it vanished again


def test_missing_job_consults_accounting_once_in_one_command():
    clock, source, files, out, poller = make(has_accounting=True)
    poller.watch([out.watch("5"), out.watch("6")])
    poller.tick()
    clock.t += 31
    source.accounting_statuses = {"5": JobStatus(JobState.OUT_OF_MEMORY, "137", exit_code=137)}
    poller.tick()
    assert source.accounting_queries == [["5", "6"]]
    assert isinstance(out.done["5"].error, JobOutOfMemoryError)
    assert isinstance(out.done["6"].error, JobLostError)


def test_transient_failures_retried_then_fail_jobs_with_command_stderr():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    err = CommandError(["sacct", "-j", "1"], 1, stderr="sacct: error: Socket timed out on send/recv")
    source.fail_next = [StatusQueryError(err, transient=True)] * 2
    poller.tick()
    poller.tick()
    source.statuses = {"1": R}
    poller.tick()  # a success resets the count
    assert not out.done
    source.fail_next = [StatusQueryError(err, transient=True)] * 3
    for _ in range(3):
        poller.tick()
    failure = out.done["1"].error
    assert type(failure) is JobError
    assert "sacct -j 1" in str(failure) and "Socket timed out" in str(failure)


def test_hard_failures_fail_sooner():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    err = CommandError(["sacct"], 1, stderr='sacct: error: Invalid field requested: "Foo"')
    source.fail_next = [StatusQueryError(err, transient=False)] * 2
    poller.tick()
    assert not out.done
    poller.tick()
    assert "Invalid field" in str(out.done["1"].error)


def test_fetch_transport_error_is_retried():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": CD}
    files.files["/j/1/result.pkl"] = b"v"
    files.fail_next = 1
    poller.tick()
    assert not out.done
    poller.tick()
    assert out.done["1"] == ResultReady(b"v")


def test_forget_prevents_resolution_and_duplicate_watch_rejected():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    with pytest.raises(ValueError, match="already being watched"):
        poller.watch([out.watch("1")])
    poller.forget(["1"])
    source.statuses = {"1": CD}
    files.files["/j/1/result.pkl"] = b"v"
    poller.tick()
    assert not out.done and source.queries == []


def test_thread_resolves_and_exits_after_stop():
    source, files, out = FakeSource(), FakeFiles(), Outcomes()
    poller = Poller(source, files, PollerConfig(interval_s=0.01, max_interval_s=0.05))
    done = threading.Event()
    w = out.watch("1")
    inner = w.on_done
    w.on_done = lambda d: (inner(d), done.set())
    source.statuses = {"1": CD}
    files.files["/j/1/result.pkl"] = b"v"
    poller.watch([w])
    assert done.wait(10)
    poller.stop(wait=True, timeout_s=10)
    assert out.done["1"] == ResultReady(b"v")
    deadline = time.monotonic() + 10
    while poller._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert poller._thread is None
