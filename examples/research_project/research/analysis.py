"""Cluster-decorated analysis functions.

Each function runs as a batch job when a cluster profile is active, and on this machine
otherwise. The test suite runs them unchanged on ``--clustrix-backend=local``, ``slurm-sim``, ``pbs-sim`` or ``torque-sim``.
"""

from __future__ import annotations

import os
import random
import statistics

from clustrix import cluster


@cluster(cores=1, memory="512M", time="00:10:00")
def estimate_pi(samples: int, seed: int) -> float:
    """Estimate pi from ``samples`` random points in the unit square."""
    if samples <= 0:
        raise ValueError(f"samples must be positive, got {samples}")
    rng = random.Random(seed)
    inside = sum(1 for _ in range(samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
    return 4.0 * inside / samples


@cluster(cores=2, memory="1G", time="00:10:00")
def summarize(values: list[float]) -> dict[str, float]:
    """Mean and standard deviation of a list of estimates."""
    print(f"summarizing {len(values)} values")
    return {"mean": statistics.fmean(values), "stdev": statistics.pstdev(values)}


@cluster(time="00:05:00")
def where_am_i() -> dict[str, str | None]:
    """Where the job ran: its scheduler job id (None off-cluster) and process id."""
    job_id = os.environ.get("SLURM_JOB_ID") or os.environ.get("PBS_JOBID")  # PBS: "123.server"
    return {"job_id": job_id, "pid": str(os.getpid())}
