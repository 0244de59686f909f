"""clustrix_sim: a simulated HPC cluster that really schedules and runs jobs.

It answers SLURM's (later PBS's and SGE's) commands with the real tools' exact output, on PATH,
over SSH on loopback, or in Docker. It never imports clustrix's scheduler modules: it is the
independent oracle that checks them.
"""

from __future__ import annotations

__all__ = ["SimCluster"]


def __getattr__(name: str):
    # Lazy: the tool scripts import clustrix_sim on every call and must not pay for SimCluster.
    if name == "SimCluster":
        from clustrix_sim.cluster import SimCluster

        return SimCluster
    raise AttributeError(f"module 'clustrix_sim' has no attribute {name!r}")
