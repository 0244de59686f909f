"""Load: 500 concurrent calls from 4 threads on one executor, over SSH against the simulator.

Every value comes back right, none is lost, each call ran as exactly one job, and the status
commands stay batched: the simulator's own request counts (``stats``) show at most one status
command (sacct or squeue) per poller tick.
"""

from __future__ import annotations

import sys
import threading
import uuid

import cloudpickle

from clustrix.api.executor import ClusterExecutor
from clustrix.config.profile import Profile

cloudpickle.register_pickle_by_value(sys.modules[__name__])
CALLS, THREADS = 500, 4
DEADLINE_S = 600


def square(x):
    return x * x


def status_requests(sim) -> int:
    counts = sim.stats()["requests_by_tool"]
    return counts.get("sacct", 0) + counts.get("squeue", 0)


def test_500_concurrent_calls_from_4_threads_on_one_executor(slurm, tmp_path):
    profile = Profile.from_mapping(slurm.profile(name=f"load-{uuid.uuid4().hex[:8]}",
                                                 remote_dir=str(tmp_path / "jobs")))
    before_jobs = {r.job_id for r in slurm.jobs(full=False)}
    with ClusterExecutor(profile, name="load") as ex:
        poller = ex.backend.poller
        ticks = [0]
        tick = poller.tick

        def counting_tick():
            ticks[0] += 1
            return tick()

        poller.tick = counting_tick
        before_status = status_requests(slurm)
        futures: dict[int, object] = {}
        lock = threading.Lock()

        def submit_share(worker: int) -> None:
            for x in range(worker, CALLS, THREADS):
                fut = ex.submit(square, x)
                with lock:
                    futures[x] = fut

        threads = [threading.Thread(target=submit_share, args=(w,)) for w in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE_S)
        assert sorted(futures) == list(range(CALLS))
        values = {x: fut.result(timeout=DEADLINE_S) for x, fut in futures.items()}
        status = status_requests(slurm) - before_status
        tick_count = ticks[0]
    assert values == {x: x * x for x in range(CALLS)}
    new_jobs = [r for r in slurm.jobs(full=False) if r.job_id not in before_jobs]
    assert len(new_jobs) == CALLS  # one job per call: none lost, none doubled
    assert 0 < status <= tick_count  # one batched status command per tick at most
