"""What every scheduler backend must do end to end, on the PBS Pro and Torque simulators over SSH.

Parametrized over PBS Pro and Torque (``any_cluster``; SLURM and Grid Engine run the same
checks in ``test_scheduler_backends.py``): values and printed output come
back, exception types survive, arrays return results in order with the ``%`` limit in the
script, cancel/walltime/memory kills surface as their own errors, and a new process reattaches
to running jobs through the ledger. Scheduler-specific faults stay in ``test_slurm_backend.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import cloudpickle
import pytest
from e2e_env import JOB_ENV

from clustrix.backends.ledger import Ledger
from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import JobCancelledError, JobOutOfMemoryError, JobTimeoutError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec, Resources

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 90
ARRAY_DIRECTIVE = {"slurm": "#SBATCH --array=0-2%2", "pbs": "#PBS -J 0-2%2", "torque": "#PBS -t 0-2%2"}


@pytest.fixture
def backend(cluster, tmp_path):
    mapping = cluster.profile(name="sim", remote_dir=str(tmp_path / "jobs"))
    b = RemoteBackend(Profile.from_mapping(mapping), sleep=lambda s: time.sleep(0.05))
    yield b
    b.shutdown(wait=False, cancel_futures=True)


def engine_id(job_id: str) -> int:
    """The simulator's record id of a job: ``123``, ``123_4`` (SLURM), ``123.server``,
    ``123[].server`` (PBS) all name record ``123``."""
    return int(job_id.split(".")[0].split("[")[0].split("_")[0])


def array_id(task_job_id: str) -> str:
    """The array's own id from a task future's id: ``123[4]`` -> ``123``, ``9[].srv[4]`` -> ``9[].srv``."""
    return task_job_id.rsplit("[", 1)[0]


def spec(name="e2e", env=(), **kw) -> JobSpec:
    return JobSpec(name=name, python=sys.executable, env={**JOB_ENV, **dict(env)}, **kw)


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


def hog_memory(mb):
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(30)
    return len(block)


def wait_for(predicate, timeout_s=DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_value_stdout_and_ledger(backend, cluster):
    fut = backend.submit(Call(triple, (14,), {}), spec())
    assert fut.result(timeout=DEADLINE_S) == 42
    assert fut.stdout() == "tripling 14\n"
    # The result is noticed as soon as its file exists, possibly while the job script is still
    # finishing: the scheduler's final word comes a moment later.
    assert cluster.wait_job(engine_id(fut.job_id), timeout_s=DEADLINE_S).state == "COMPLETED"
    entry = Ledger(backend.profile.ledger).find(fut.job_id)
    assert entry.state == "COMPLETED" and entry.backend == cluster.scheduler and entry.finished_at is not None


def test_exception_type_preserved(backend):
    fut = backend.submit(Call(raise_oops, (), {}), spec())
    with pytest.raises(Oops, match="remote oops"):
        fut.result(timeout=DEADLINE_S)


def test_array_is_one_job_with_results_in_order(backend, cluster):
    backend.profile = replace(backend.profile, array_chunk_size=4, max_array_parallel=2)
    futs = backend.submit_array(triple, [((i,), {}) for i in range(10)], spec("arr"))
    assert [f.result(timeout=DEADLINE_S) for f in futs] == [3 * i for i in range(10)]
    assert futs[7].stdout() == "tripling 7\n"
    base = engine_id(futs[0].job_id)
    tasks = [r for r in cluster.jobs() if r.array_job_id == base]
    assert sorted(r.array_task_id for r in tasks) == [0, 1, 2]  # 10 items in chunks of 4
    entry = Ledger(backend.profile.ledger).find(array_id(futs[0].job_id))
    script = open(os.path.join(entry.job_dir, "job.sh")).read()
    assert ARRAY_DIRECTIVE[cluster.scheduler] in script.splitlines()  # the %limit: max_array_parallel


def test_cancel_running_job(backend, cluster, tmp_path):
    marker = tmp_path / "started"
    fut = backend.submit(Call(touch_and_sleep, (str(marker), 120), {}), spec())
    wait_for(marker.exists)
    assert fut.cancel() and fut.cancelled()
    with pytest.raises(JobCancelledError):
        fut.result(timeout=1)
    rec = cluster.wait_job(engine_id(fut.job_id), timeout_s=DEADLINE_S)
    assert rec.state.startswith("CANCELLED")
    assert Ledger(backend.profile.ledger).find(fut.job_id).state == "CANCELLED"


def test_timeout_surfaces_as_job_timeout_error(backend):
    fut = backend.submit(Call(time.sleep, (3600,), {}), spec(resources=Resources(time_s=60)))  # 1 s real
    with pytest.raises(JobTimeoutError) as info:
        fut.result(timeout=DEADLINE_S)
    assert info.value.job_id == fut.job_id


def test_out_of_memory_surfaces(backend):
    fut = backend.submit(Call(hog_memory, (400,), {}), spec(resources=Resources(mem_mb=150)))
    with pytest.raises(JobOutOfMemoryError):
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
        print(attach({array_id(arr[0].job_id)!r}, ledger=ledger).result(timeout={DEADLINE_S}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_S * 2)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:2] == ["slept", "[0, 3, 6, 9]"]
