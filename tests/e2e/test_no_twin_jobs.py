"""After an ambiguous submission failure exactly one job runs (simulated SLURM over real SSH).

Each kind of ambiguous failure is produced at the transport seam: :class:`AcceptedThenFailed`
runs the real ``sbatch`` on the real simulator — the job is accepted and starts — and then
reports a failure instead of its output: a dropped connection, a command timeout, or the
"Socket timed out" a busy slurmctld prints after it took the request. (The simulator's own
``fail_submissions`` fault fails *before* accepting; a fault "accept, then fail" would let these
run without the seam.) The library must find the accepted job by its tag and adopt it.
"""

from __future__ import annotations

import sys

import cloudpickle
import pytest
from e2e_env import JOB_ENV

from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import CommandTimeoutError, ConnectionLostError, SubmissionError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec
from clustrix.transports import transport_for
from clustrix.transports.base import Completed

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 90
SOCKET_TIMED_OUT = "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n"


class AcceptedThenFailed:
    """A real transport whose next ``n`` sbatch commands really run, then report ``failure``."""

    def __init__(self, inner, failure: str, n: int = 1):
        self._inner, self.failure, self.remaining = inner, failure, n
        self.commands: list[str] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def run(self, argv, **kw):
        self.commands.append(argv[0])
        done = self._inner.run(argv, **kw)
        if argv[0] != "sbatch" or self.remaining == 0 or done.returncode != 0:
            return done
        self.remaining -= 1  # the job was accepted (done.stdout holds its id); now lie about it
        if self.failure == "dropped":
            raise ConnectionLostError("connection lost while running 'sbatch': it may or may not have run",
                                      host=self.host)
        if self.failure == "timeout":
            raise CommandTimeoutError("'sbatch' did not finish within 30 s", host=self.host)
        return Completed(done.argv, 1, "", SOCKET_TIMED_OUT, host=self.host)


def triple(x):
    return 3 * x


def spec() -> JobSpec:
    return JobSpec(name="twins", python=sys.executable, env=JOB_ENV)


@pytest.fixture
def make(slurm, tmp_path):
    made = []

    def build(failure: str, n: int = 1):
        profile = Profile.from_mapping(slurm.profile(name="sim", remote_dir=str(tmp_path / "jobs")))
        transport = AcceptedThenFailed(transport_for(profile), failure, n)
        backend = RemoteBackend(profile, transport=transport, sleep=lambda s: None)
        made.append(backend)
        return backend, transport

    yield build
    for backend in made:
        backend.shutdown(wait=False, cancel_futures=True)


def jobs_tagged(sim, tag: str) -> list[int]:
    return [r.job_id for r in sim.jobs() if r.request.comment == tag]


def tag_of(fut) -> str:
    return fut.handle.sub.paths.job_dir.rsplit("/", 1)[1]


@pytest.mark.parametrize("failure", ["dropped", "timeout", "socket-timed-out"])
def test_exactly_one_job_after_an_ambiguous_failure(make, slurm, failure):
    backend, transport = make(failure)
    fut = backend.submit(Call(triple, (5,)), spec())
    assert fut.result(timeout=DEADLINE_S) == 15
    assert jobs_tagged(slurm, tag_of(fut)) == [int(fut.job_id)]  # one job, and it is the one tracked
    assert transport.commands.count("sbatch") == 1  # found by its tag, never resubmitted
    assert transport.commands.count("squeue") >= 1


def test_exactly_one_array_after_an_ambiguous_failure(make, slurm):
    backend, _ = make("dropped")
    futures = backend.submit_array(triple, [((i,), {}) for i in range(4)], spec())
    assert [f.result(timeout=DEADLINE_S) for f in futures] == [0, 3, 6, 9]
    ids = jobs_tagged(slurm, tag_of(futures[0]))
    assert len(ids) == 4  # one record per task of ONE array
    assert {r.array_job_id for r in slurm.jobs(ids)} == {int(futures[0].handle.sub.job_id)}


def test_a_failure_before_acceptance_is_resubmitted_once(make, slurm):
    """The simulator's own fault fails sbatch before the job exists: the lookup finds nothing and
    one resubmission makes exactly one job."""
    backend, transport = make("none", n=0)
    slurm.faults.fail_submissions(n=1)
    fut = backend.submit(Call(triple, (2,)), spec())
    assert fut.result(timeout=DEADLINE_S) == 6
    assert jobs_tagged(slurm, tag_of(fut)) == [int(fut.job_id)]
    assert transport.commands.count("sbatch") == 2


def test_repeated_ambiguous_failures_still_make_one_job(make, slurm):
    """The first attempt is accepted; every later sbatch would be too, but none runs."""
    backend, transport = make("socket-timed-out", n=3)
    fut = backend.submit(Call(triple, (4,)), spec())
    assert fut.result(timeout=DEADLINE_S) == 12
    assert jobs_tagged(slurm, tag_of(fut)) == [int(fut.job_id)]
    assert transport.commands.count("sbatch") == 1


def test_unanswered_lookups_end_in_an_error_that_names_the_tag(make, slurm):
    """When no status query answers, nothing is resubmitted blind: the error says the job may
    exist and how to find it."""
    backend, transport = make("dropped")
    slurm.faults.fail_status(n=None, tools=("squeue",))
    try:
        with pytest.raises(SubmissionError, match=r"may have been submitted.*tag \d{8}-[0-9a-f]{32}.*squeue"):
            backend.submit(Call(triple, (1,)), spec())
    finally:
        slurm.faults.clear()
    assert transport.commands.count("sbatch") == 1
