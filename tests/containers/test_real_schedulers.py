"""clustrix against the REAL schedulers in containers, over real SSH (paramiko -> OpenSSH).

What the simulator cannot show: that the scripts clustrix renders, the commands it runs and the
outputs it parses are right for Slurm 22.05 and Grid Engine 8.1.9 themselves.
"""

from __future__ import annotations

import sys
import time
import uuid

import cloudpickle
import pytest

from clustrix import cluster
from clustrix.api.executor import ClusterExecutor
from clustrix.config.profile import Profile
from clustrix.errors import JobCancelledError, JobTimeoutError

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the container has no tests/ package
DEADLINE_S = 180


class Oops(Exception):
    pass


def triple(x):
    print("tripling", x)
    return 3 * x


def raise_oops(msg):
    raise Oops(msg)


def touch_and_sleep(path, seconds):
    open(path, "w").close()
    time.sleep(seconds)
    return "slept"


def profile_of(c, **overrides) -> Profile:
    return Profile.from_mapping(c.profile(**overrides), name=f"{c.scheduler}-docker")


def wait_until(predicate, what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.1)


def test_decorated_call_returns_its_value_and_output(real_cluster):
    remote = cluster(profile=profile_of(real_cluster), cores=1, memory="256M", time="00:05:00")(triple)
    future = remote.submit(14)
    assert future.result(timeout=DEADLINE_S) == 42
    assert "tripling 14" in future.stdout()
    assert remote(5) == 15


def test_remote_exception_is_reraised_with_its_type(real_cluster):
    with ClusterExecutor(profile_of(real_cluster)) as ex:
        future = ex.submit(raise_oops, "from the real scheduler")
        with pytest.raises(Oops, match="from the real scheduler"):
            future.result(timeout=DEADLINE_S)


def test_map_is_one_job_array_with_results_in_order(real_cluster):
    with ClusterExecutor(profile_of(real_cluster, array_chunk_size=2)) as ex:
        futures = ex.submit_array(triple, range(7))
        assert [f.result(timeout=DEADLINE_S) for f in futures] == [3 * i for i in range(7)]
        assert len({f.job_id.split("[")[0].split(".")[0] for f in futures}) == 1  # one submission
        assert list(ex.map(triple, range(5), timeout=DEADLINE_S)) == [0, 3, 6, 9, 12]


def test_cancel_a_running_job(real_cluster):
    marker = f"/home/clustrix/started-{uuid.uuid4().hex}"
    with ClusterExecutor(profile_of(real_cluster)) as ex:
        future = ex.submit(touch_and_sleep, marker, 600)
        wait_until(lambda: real_cluster.run(["test", "-e", marker]).returncode == 0, "the job to start")
        assert future.cancel()
        with pytest.raises(JobCancelledError):
            future.result(timeout=DEADLINE_S)
        job = future.job_id.split(".")[0]
        queue = ["squeue", "-h", "-j", job] if real_cluster.scheduler == "slurm" else ["qstat"]
        wait_until(lambda: job not in real_cluster.run(queue).stdout, "the job to leave the queue")


def test_walltime_kill_is_a_job_timeout_error(real_cluster):
    # Real Slurm limits are whole minutes (and enforced on a ~30 s sweep): one minute it is.
    # Grid Engine enforces h_rt in seconds.
    limit = "00:01:00" if real_cluster.scheduler == "slurm" else "00:00:05"
    with ClusterExecutor(profile_of(real_cluster, time=limit)) as ex:
        future = ex.submit(time.sleep, 600)
        with pytest.raises(JobTimeoutError) as info:
            future.result(timeout=DEADLINE_S)
        assert info.value.job_id == future.job_id
