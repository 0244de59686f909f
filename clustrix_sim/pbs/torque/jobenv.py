"""A Torque job's output files and environment: :mod:`clustrix_sim.pbs.jobenv` with the
Torque dialect (``PBS_ARRAYID``, ``PBS_NUM_NODES``/``PBS_NUM_PPN``/``PBS_NP``, subjob output
``<path>-<index>``, a nodefile line per ``ppn``)."""

from __future__ import annotations

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.pbs.dialect import TORQUE
from clustrix_sim.pbs.jobenv import env_for, nodefile_for, paths_for

__all__ = ["job_env", "job_files", "output_paths"]


def output_paths(record: JobRecord) -> tuple[str, str]:
    return paths_for(record, TORQUE)


def job_env(record: JobRecord, cluster_name: str) -> dict[str, str]:
    return env_for(record, TORQUE)


def job_files(record: JobRecord) -> dict[str, str]:
    return {"PBS_NODEFILE": nodefile_for(record, TORQUE)}
