"""A signed result replayed into another job, or another task, is refused (simulated SLURM, SSH).

Someone who can write job directories (a shared scratch) but not read the key copies job A's
valid result file into job B's directory while B runs: B's future must fail with
PayloadAuthError naming both jobs, not return A's value.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

import cloudpickle
import pytest
from e2e_env import JOB_ENV

from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import PayloadAuthError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 90


def value_or_wait(value, gate):
    """Return ``value``, once ``gate`` exists when one is given (the test opens it; bounded)."""
    deadline = time.monotonic() + 120
    while gate is not None and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


@pytest.fixture
def backend(slurm, tmp_path):
    profile = Profile.from_mapping(slurm.profile(name="sim", remote_dir=str(tmp_path / "jobs")))
    b = RemoteBackend(profile, sleep=lambda s: None)
    yield b
    b.shutdown(wait=False, cancel_futures=True)


def spec() -> JobSpec:
    return JobSpec(name="binding", python=sys.executable, env=JOB_ENV)


def job_dir(fut) -> str:
    return fut.handle.sub.paths.job_dir


def test_result_of_job_a_copied_into_job_b_fails_b(backend, tmp_path):
    gate = str(tmp_path / "open")
    a = backend.submit(Call(value_or_wait, ("A's value", None)), spec())
    b = backend.submit(Call(value_or_wait, ("B's value", gate)), spec())
    assert a.result(timeout=DEADLINE_S) == "A's value"
    shutil.copy(os.path.join(job_dir(a), "result.pkl"), os.path.join(job_dir(b), "result.pkl"))
    with pytest.raises(PayloadAuthError) as info:
        b.result(timeout=DEADLINE_S)
    text = str(info.value)
    assert os.path.basename(job_dir(a)) in text and os.path.basename(job_dir(b)) in text
    open(gate, "w").close()


def test_result_of_task_3_placed_as_task_4_fails_task_4(backend, tmp_path):
    gate = str(tmp_path / "open")
    futures = backend.submit_array(value_or_wait, [((i, None if i != 4 else gate), {}) for i in range(5)],
                                   spec(), chunk_size=1)
    assert [f.result(timeout=DEADLINE_S) for f in futures[:4]] == [0, 1, 2, 3]
    directory = job_dir(futures[0])
    shutil.copy(os.path.join(directory, "result.3.pkl"), os.path.join(directory, "result.4.pkl"))
    with pytest.raises(PayloadAuthError, match="task 3.*but .*task 4"):
        futures[4].result(timeout=DEADLINE_S)
    open(gate, "w").close()
