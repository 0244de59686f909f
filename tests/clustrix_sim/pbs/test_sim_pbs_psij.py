"""psij-python's PBS executors (a real client nobody here wrote) against the simulator, unchanged.

psij runs ``qsub <abs path>``, polls ``qstat -f -F json -x <ids>`` and cancels with ``qdel``; it
reads ``Exit_status`` (265 is CANCELED, other non-zero FAILED) and ``comment``. Its classic
(Torque) executor uses the same commands and the ``nodes=N:ppn=P`` template; Torque has no
``-F json``, so psij's classic executor cannot poll a real Torque server and is run against the
PBS Pro simulator here, as psij's own CI does.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from clustrix_sim.cluster import SimCluster

psij = pytest.importorskip("psij")
WAIT = timedelta(seconds=60)


@pytest.fixture(scope="module")
def pbs_on_path():
    with SimCluster(scheduler="pbs", nodes=1, cores_per_node=4, time_scale=60, ssh=False) as sim:
        saved = dict(os.environ)
        os.environ.update(sim.env())
        try:
            yield sim
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.mark.parametrize("executor", ["pbs", "pbs_classic"])
def test_submit_wait_and_failure(pbs_on_path, tmp_path, executor):
    ex = psij.JobExecutor.get_instance(executor)
    out = tmp_path / "out.txt"
    job = psij.Job(psij.JobSpec(executable="/bin/sh", arguments=["-c", "echo from-psij; exit 3"],
                                directory=str(tmp_path), stdout_path=str(out)))
    ex.submit(job)
    assert job.native_id.endswith(".pbs-server")
    status = job.wait(timeout=WAIT)
    assert status.state == psij.JobState.FAILED and status.exit_code == 3
    assert out.read_text() == "from-psij\n"
    ok = psij.Job(psij.JobSpec(executable="/bin/true", directory=str(tmp_path)))
    ex.submit(ok)
    assert ok.wait(timeout=WAIT).state == psij.JobState.COMPLETED


def test_cancel_of_a_running_job(pbs_on_path, tmp_path):
    ex = psij.JobExecutor.get_instance("pbs")
    job = psij.Job(psij.JobSpec(executable="/bin/sleep", arguments=["600"], directory=str(tmp_path)))
    ex.submit(job)
    job.wait(target_states=[psij.JobState.ACTIVE], timeout=WAIT)
    job.cancel()
    status = job.wait(timeout=WAIT)
    # qdel's SIGTERM kills the script: Exit_status 271, which psij (reading only 265 as
    # CANCELED) reports as FAILED; the job is over either way.
    assert status.state in (psij.JobState.CANCELED, psij.JobState.FAILED)
    assert pbs_on_path.job(int(job.native_id.split(".")[0])).state == "CANCELLED"
