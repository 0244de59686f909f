"""The SLURM backend end to end: the simulated cluster's sbatch/squeue/sacct/scancel over real SSH.

What every scheduler must do (values, exceptions, arrays, cancel, walltime and memory kills,
reattach) is in ``test_scheduler_backends.py``, run on SLURM, PBS Pro and Torque; this file keeps
SLURM's own paths.

Faults come from the simulator (``sim.faults``): rejected submissions, failing status commands,
dropped SSH connections, accounting switched off, finished jobs purged, a failing node.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import replace

import cloudpickle
import pytest
from e2e_env import JOB_ENV

from clustrix.backends.ledger import Ledger
from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import (
    JobNodeFailError,
    SubmissionError,
)
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 90


def make_backend(sim, tmp_path, **profile_overrides) -> RemoteBackend:
    mapping = sim.profile(name="sim", remote_dir=str(tmp_path / "jobs"), **profile_overrides)
    return RemoteBackend(Profile.from_mapping(mapping), sleep=lambda s: time.sleep(0.05))


@pytest.fixture
def backend(slurm, tmp_path):
    b = make_backend(slurm, tmp_path)
    yield b
    b.shutdown(wait=False, cancel_futures=True)


def spec(name="e2e", env=(), **kw) -> JobSpec:
    return JobSpec(name=name, python=sys.executable, env={**JOB_ENV, **dict(env)}, **kw)


def triple(x):
    print("tripling", x)
    return 3 * x


def touch_and_sleep(path, seconds):
    open(path, "w").close()
    time.sleep(seconds)
    return "slept"


def getenv(name):
    return os.environ[name]


def wait_for_go(path, value):
    """A job that runs until the test creates ``path`` (so it outlives whatever the test waits for)."""
    deadline = time.monotonic() + DEADLINE_S
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.02)
    return value


class CommandLog:
    """Records every command the backend's transport runs: (thread name, tick number, argv[0])."""

    def __init__(self, backend):
        self.calls: list[tuple[str, int, str]] = []
        self.tick = 0
        run, tick = backend.transport.run, backend.poller.tick

        def counting_run(argv, **kw):
            self.calls.append((threading.current_thread().name, self.tick, os.path.basename(argv[0])))
            return run(argv, **kw)

        def counting_tick():
            self.tick += 1
            return tick()

        backend.transport.run = counting_run
        backend.poller.tick = counting_tick

    def count(self, *tools):
        return sum(1 for _, _, name in self.calls if name in tools)


def wait_for(predicate, timeout_s=DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# -- terminal states ----------------------------------------------------------------------------------


def test_node_failure_surfaces(backend, slurm, tmp_path):
    marker = tmp_path / "started"
    fut = backend.submit(Call(touch_and_sleep, (str(marker), 120), {}), spec())
    wait_for(marker.exists)
    node = slurm.job(int(fut.job_id)).node_list[0]
    slurm.faults.fail_node(node)
    with pytest.raises(JobNodeFailError):
        fut.result(timeout=DEADLINE_S)


# -- faults ------------------------------------------------------------------------------------------


def test_transient_sbatch_failure_is_retried(backend, slurm):
    slurm.faults.fail_submissions(n=2)  # "Socket timed out on send/recv operation"
    fut = backend.submit(Call(triple, (1,), {}), spec())
    assert fut.result(timeout=DEADLINE_S) == 3


def test_permanent_sbatch_failure_raises_submission_error(backend, slurm):
    msg = "sbatch: error: Batch job submission failed: Invalid partition name specified"
    slurm.faults.fail_submissions(n=1, message=msg)
    with pytest.raises(SubmissionError, match="Invalid partition name"):
        backend.submit(Call(triple, (1,), {}), spec())


def test_transient_status_failures_still_end_with_the_result(backend, slurm, tmp_path):
    slurm.faults.fail_status(n=4)
    go = tmp_path / "go"
    fut = backend.submit(Call(wait_for_go, (str(go), 6), {}), spec())
    wait_for(lambda: not slurm.faults.list()["failures"])  # four status rounds failed meanwhile
    go.touch()
    assert fut.result(timeout=DEADLINE_S) == 6


def test_result_is_noticed_while_every_status_command_fails(backend, slurm, tmp_path):
    log = CommandLog(backend)
    slurm.faults.fail_status(n=None)  # sacct and squeue fail until cleared
    go = tmp_path / "go"
    fut = backend.submit(Call(wait_for_go, (str(go), 7), {}), spec())
    wait_for(lambda: log.count("sacct", "squeue") >= 1)  # a status round failed
    go.touch()
    assert fut.result(timeout=DEADLINE_S) == 7  # the result file alone resolves it


def test_at_most_one_status_command_per_poll_tick(backend, slurm, tmp_path):
    log = CommandLog(backend)
    go = tmp_path / "go"
    backend.profile = replace(backend.profile, array_chunk_size=1)
    arr = backend.submit_array(wait_for_go, [((str(go), i), {}) for i in range(6)], spec("arr"))
    singles = [backend.submit(Call(wait_for_go, (str(go), 10 + i), {}), spec()) for i in range(2)]
    wait_for(lambda: log.count("sacct") >= 3)  # several status rounds with all 3 jobs live
    go.touch()
    assert [f.result(timeout=DEADLINE_S) for f in arr + singles] == [0, 1, 2, 3, 4, 5, 10, 11]
    per_tick: dict[int, int] = {}
    for thread, tick, name in log.calls:
        if thread.startswith("clustrix-poller") and name in ("sacct", "squeue"):
            per_tick[tick] = per_tick.get(tick, 0) + 1
    assert per_tick and max(per_tick.values()) == 1
    assert log.tick > len(per_tick)  # the other ticks only looked at the job directories


def test_ssh_drop_mid_wait(backend, slurm, tmp_path):
    marker = tmp_path / "started"
    fut = backend.submit(Call(touch_and_sleep, (str(marker), 1.0), {}), spec())
    wait_for(marker.exists)
    slurm.faults.drop_ssh_connections()
    assert fut.result(timeout=DEADLINE_S) == "slept"


def test_accounting_disabled_falls_back_to_squeue(backend, slurm, tmp_path):
    slurm.faults.disable_accounting()
    go = tmp_path / "go"
    fut = backend.submit(Call(wait_for_go, (str(go), 15), {}), spec())
    wait_for(lambda: backend.launcher.source.use_fallback)  # a status round met "disabled"
    go.touch()
    assert fut.result(timeout=DEADLINE_S) == 15


def test_job_purged_before_first_poll_resolves_from_its_files(slurm, tmp_path):
    slurm.faults.disable_accounting()  # so neither sacct nor squeue remembers the job
    slurm.faults.set_min_job_age(0)
    gate = threading.Event()  # the poller's first tick waits until the job is gone
    backend = RemoteBackend(Profile.from_mapping(slurm.profile(name="sim", remote_dir=str(tmp_path / "jobs"))),
                            poll_sleep=lambda s: (gate.wait(DEADLINE_S), time.sleep(s)))
    try:
        fut = backend.submit(Call(triple, (7,), {}), spec())
        sentinel = os.path.join(Ledger(backend.profile.ledger).find(fut.job_id).job_dir, "exit_code")
        wait_for(lambda: os.path.exists(sentinel))
        wait_for(lambda: not [r for r in slurm.jobs() if r.job_id == int(fut.job_id) and r.visible_in_queue])
        assert not fut.done()
        gate.set()
        assert fut.result(timeout=DEADLINE_S) == 21
    finally:
        gate.set()
        backend.shutdown()


def test_shell_hostile_values_arrive_verbatim(slurm, tmp_path):
    evil = "a b;$(touch PWNED)'\"`touch PWNED2`%j"
    backend = RemoteBackend(Profile.from_mapping(slurm.profile(name="sim", remote_dir=str(tmp_path / evil / "jobs"))))
    try:
        fut = backend.submit(Call(getenv, ("EVIL",), {}),
                             spec(name=evil, env=(("EVIL", evil),), setup=("X=" + _q(evil), 'echo "$X" > setup.txt')))
        assert fut.result(timeout=DEADLINE_S) == evil
        assert slurm.job(int(fut.job_id)).request.name == evil
    finally:
        backend.shutdown()
    (job_dir,) = [d for d in (tmp_path / evil / "jobs").iterdir() if d.is_dir()]
    assert (job_dir / "setup.txt").read_text() == evil + "\n"
    assert not list(tmp_path.rglob("PWNED*")) and not list(__import__("pathlib").Path(slurm.home).rglob("PWNED*"))


def _q(text):
    import shlex

    return shlex.quote(text)
