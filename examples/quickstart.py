"""clustrix quickstart: decorate a function, call it, map it, catch its exceptions.

Run it from a checkout::

    pip install -e ".[test]" && python examples/quickstart.py

Without a configuration file every call runs as a separate process on this machine (the
built-in ``local`` profile) and clustrix logs one warning saying so. Point the same script at a
cluster by creating ``clustrix.yaml``::

    default_profile: hpc
    profiles:
      hpc:
        backend: slurm
        host: login.example.org
        remote_dir: /scratch/YOU/clustrix

and nothing else changes: each call becomes a batch job, ``map`` becomes one job array.
"""

from __future__ import annotations

import math
import os

import clustrix
from clustrix import cluster


@cluster(cores=1, memory="500M", time="5m")
def estimate_pi(samples: int) -> float:
    """Monte Carlo estimate of pi from ``samples`` points (seeded, so reproducible)."""
    import random

    rng = random.Random(samples)
    inside = sum(1 for _ in range(samples) if rng.random() ** 2 + rng.random() ** 2 <= 1.0)
    print(f"{samples} samples on pid {os.getpid()}")  # captured; see future.stdout()
    return 4.0 * inside / samples


@cluster
def check_positive(x: float) -> float:
    if x <= 0:
        raise ValueError(f"expected a positive number, got {x}")
    return math.sqrt(x)


def main() -> None:
    profile = clustrix.resolve_profile()
    print(f"clustrix {clustrix.__version__}: profile {profile.name!r} (backend {profile.backend})")

    # 1. One call: blocks until the job is done and returns its value.
    print(f"pi ~ {estimate_pi(20_000):.4f}")

    # 2. map: one job array over several inputs; results come back in input order.
    for n, value in zip([1_000, 10_000, 100_000], estimate_pi.map([1_000, 10_000, 100_000]), strict=True):
        print(f"  {n:>7} samples -> {value:.4f}")

    # 3. The job's exception comes back with its original type (and the remote traceback).
    try:
        check_positive(-4)
    except ValueError as exc:
        print(f"caught ValueError from the job: {exc}")

    # 4. submit: a future, so you can do other work while the job runs.
    future = estimate_pi.submit(5_000)
    print(f"job {future.job_id}: {future.result():.4f}; it printed: {future.stdout().strip()!r}")
    print(f"square roots: {check_positive.map([1, 4, 9])}")


if __name__ == "__main__":
    main()
