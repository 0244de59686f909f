"""What every simulated scheduler must do end to end with clustrix over real SSH, one test body
per behaviour, parameterized over the schedulers (SLURM, Grid Engine): values and stdout, the
remote exception's type, arrays with results in input order, cancel, time limit, reattach.

Scheduler-specific faults stay in the per-scheduler files (``test_slurm_backend.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, replace

import cloudpickle
import pytest

from clustrix.backends.ledger import Ledger
from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import JobCancelledError, JobOutOfMemoryError, JobTimeoutError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec, Resources

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 90


@dataclass(frozen=True)
class Flavor:
    """What differs between schedulers in these checks (data, not branches in the tests)."""

    name: str
    first_task: int  # the scheduler's index of clustrix's task 0
    array_lines: tuple[str, ...]  # script lines of a 3-task array with max 2 running
    memory_overrun: type[BaseException]  # what a call allocating past its memory= raises


FLAVORS = {
    "slurm": Flavor("slurm", 0, ("#SBATCH --array=0-2%2",), JobOutOfMemoryError),  # the cgroup kills it
    # h_vmem is an address-space rlimit: the allocation fails in the job (real 8.1.9 does the same)
    "sge": Flavor("sge", 1, ("#$ -t 1-3", "#$ -tc 2"), MemoryError),
}


@pytest.fixture(params=sorted(FLAVORS))
def flavor(request) -> Flavor:
    return FLAVORS[request.param]


@pytest.fixture
def sim(flavor, request):
    cluster = request.getfixturevalue(f"{flavor.name}_cluster")
    yield cluster
    cluster.faults.clear()


@pytest.fixture
def backend(sim, tmp_path):
    mapping = sim.profile(name="sim", remote_dir=str(tmp_path / "jobs"))
    b = RemoteBackend(Profile.from_mapping(mapping), sleep=lambda s: time.sleep(0.05))
    yield b
    b.shutdown(wait=False, cancel_futures=True)


def spec(name="e2e", **kw) -> JobSpec:
    return JobSpec(name=name, python=sys.executable, **kw)


def triple(x):
    print("tripling", x)
    return 3 * x


class Oops(Exception):
    pass


def raise_oops():
    raise Oops("remote oops")


def touch_and_sleep(path, seconds):
    open(path, "w").close()
    time.sleep(seconds)
    return "slept"


def wait_for(predicate, timeout_s=DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_value_stdout_and_ledger(backend, sim, flavor):
    fut = backend.submit(Call(triple, (14,), {}), spec())
    assert fut.result(timeout=DEADLINE_S) == 42
    assert fut.stdout() == "tripling 14\n"
    assert sim.wait_job(int(fut.job_id), timeout_s=DEADLINE_S).state == "COMPLETED"
    entry = Ledger(backend.profile.ledger).find(fut.job_id)
    assert entry.backend == flavor.name and entry.finished_at is not None


def test_exception_type_preserved(backend):
    fut = backend.submit(Call(raise_oops, (), {}), spec())
    with pytest.raises(Oops, match="remote oops"):
        fut.result(timeout=DEADLINE_S)


def test_array_is_one_job_with_results_in_order(backend, sim, flavor):
    backend.profile = replace(backend.profile, array_chunk_size=4, max_array_parallel=2)
    futs = backend.submit_array(triple, [((i,), {}) for i in range(10)], spec("arr"))
    assert [f.result(timeout=DEADLINE_S) for f in futs] == [3 * i for i in range(10)]
    assert futs[7].stdout() == "tripling 7\n"
    base = int(futs[0].job_id.split("[")[0])
    tasks = [r for r in sim.jobs() if r.array_job_id == base]
    first = flavor.first_task
    assert sorted(r.array_task_id for r in tasks) == [first, first + 1, first + 2]  # 10 items in chunks of 4
    script = open(os.path.join(Ledger(backend.profile.ledger).find(str(base)).job_dir, "job.sh")).read().splitlines()
    for line in flavor.array_lines:
        assert line in script, f"{line!r} missing from the {flavor.name} array script"


def test_cancel_running_job(backend, sim, tmp_path):
    marker = tmp_path / "started"
    fut = backend.submit(Call(touch_and_sleep, (str(marker), 120), {}), spec())
    wait_for(marker.exists)
    assert fut.cancel() and fut.cancelled()
    with pytest.raises(JobCancelledError):
        fut.result(timeout=1)
    assert sim.wait_job(int(fut.job_id), timeout_s=DEADLINE_S).state == "CANCELLED"
    assert Ledger(backend.profile.ledger).find(fut.job_id).state == "CANCELLED"


def test_cancelling_a_job_that_already_ended_is_not_an_error(backend):
    fut = backend.submit(Call(triple, (2,), {}), spec())
    assert fut.result(timeout=DEADLINE_S) == 6
    backend.launcher.cancel([fut.job_id])  # the scheduler no longer knows it: nothing to do


def test_timeout_surfaces_as_job_timeout_error(backend):
    fut = backend.submit(Call(time.sleep, (3600,), {}), spec(resources=Resources(time_s=60)))  # 1 s real
    with pytest.raises(JobTimeoutError) as info:
        fut.result(timeout=DEADLINE_S)
    assert info.value.job_id == fut.job_id


def hog_memory(mb):
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(30)
    return len(block)


def test_memory_overrun_surfaces(backend, flavor):
    fut = backend.submit(Call(hog_memory, (400,), {}), spec(resources=Resources(mem_mb=150)))
    with pytest.raises(flavor.memory_overrun):
        fut.result(timeout=DEADLINE_S)


def test_reattach_from_a_new_process(backend, tmp_path):
    marker = tmp_path / "started"
    fut = backend.submit(Call(touch_and_sleep, (str(marker), 1.5), {}), spec())
    arr = backend.submit_array(triple, [((i,), {}) for i in range(4)], spec("arr"))
    backend.shutdown(wait=False)  # the client "dies" with both jobs queued or running
    code = textwrap.dedent(f"""
        from clustrix import attach
        ledger = {backend.profile.ledger!r}  # the simulator's own ledger
        print(attach({fut.job_id!r}, ledger=ledger).result(timeout={DEADLINE_S}))
        print(attach({arr[0].job_id.split('[')[0]!r}, ledger=ledger).result(timeout={DEADLINE_S}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_S * 2)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:2] == ["slept", "[0, 3, 6, 9]"]
