"""submitit's SlurmExecutor, unchanged, against the simulator in local mode: the strongest check
that sbatch/sacct/scancel/srun behave like the real tools for a client nobody here wrote."""

from __future__ import annotations

import operator
import os
import time
from pathlib import Path

import pytest

submitit = pytest.importorskip("submitit")

from clustrix_sim.cluster import SimCluster  # noqa: E402

DEADLINE_S = 90.0


# Standard-library callables: they unpickle in the job wherever pytest was started from
# (functions defined in this test module would need the test directory on the job's sys.path).
def _wait_state(job, wanted: str) -> None:
    """submitit reads states from sacct (cached, refreshed at intervals): poll with a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while job.state.split()[0] != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.state.split()[0] == wanted


@pytest.fixture(params=["22.05", "24.11"])  # submitit unchanged on the simulator answering as either release
def executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    with SimCluster(nodes=2, cores_per_node=2, mem_per_node="4G", ssh=False, slurm_version=request.param) as sim:
        for key, value in sim.env().items():
            monkeypatch.setenv(key, value)
        ex = submitit.SlurmExecutor(folder=tmp_path / "logs")
        ex.update_parameters(time=5, signal_delay_s=10)
        yield sim, ex


def test_submit_map_fail_cancel(executor) -> None:
    sim, ex = executor
    job = ex.submit(pow, 7, 2)
    assert job.job_id.isdigit()
    assert job.result() == 49
    _wait_state(job, "COMPLETED")

    jobs = ex.map_array(abs, [-1, -4, 9])
    assert [j.result() for j in jobs] == [1, 4, 9]
    assert {j.job_id.split("_")[0] for j in jobs} == {jobs[0].job_id.split("_")[0]}

    failing = ex.submit(operator.truediv, 1, 0)
    with pytest.raises(Exception, match="ZeroDivisionError"):
        failing.result()

    slow = ex.submit(time.sleep, 60)
    sim.wait_job(int(slow.job_id), DEADLINE_S, states=["RUNNING"])
    slow.cancel(check=True)
    rec = sim.wait_job(int(slow.job_id), DEADLINE_S)
    assert rec.state == "CANCELLED"
    _wait_state(slow, "CANCELLED")
    assert os.environ["CLUSTRIX_SIM_SOCKET"] == sim.socket_path
