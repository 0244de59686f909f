"""``sys.exit(n)`` inside a job on simulated SLURM (real sbatch, real SSH): JobExitError, not an exit."""

from __future__ import annotations

import sys

import cloudpickle
import pytest

from clustrix.api.executor import ClusterExecutor
from clustrix.errors import JobExitError

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 90


def exits(code):
    print("leaving with", code)
    sys.exit(code)


def test_sys_exit_in_a_slurm_job_raises_job_exit_error(slurm, tmp_path):
    profile = slurm.profile(name="sim", remote_dir=str(tmp_path / "jobs"))
    with ClusterExecutor(profile) as ex:
        fut = ex.submit(exits, 4)
        with pytest.raises(JobExitError) as info:
            fut.result(timeout=DEADLINE_S)
        items = ex.map(exits, [0, 5])
        with pytest.raises(JobExitError) as first:
            list(items)
    assert info.value.exit_code == 4
    assert "leaving with 4" in info.value.stdout
    assert info.value.job_id == fut.job_id and fut.job_id.isdigit()
    assert first.value.exit_code == 0
