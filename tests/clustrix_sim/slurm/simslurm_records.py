"""Builders of simulator records for the SLURM front-end tests (pure data, no controller)."""

from __future__ import annotations

from typing import Any

from clustrix_sim.engine.model import JobRecord, JobRequest

T0 = 1736157600.0  # 2025-01-06T10:00:00Z


def request(**overrides: Any) -> JobRequest:
    """A JobRequest with sensible defaults; keyword arguments override fields."""
    base: dict[str, Any] = dict(
        script="#!/bin/sh\ntrue\n",
        name="wrap",
        user="alice",
        uid=1000,
        work_dir="/data",
        partition="normal",
        account="root",
    )
    base.update(overrides)
    return JobRequest(**base)


def record(job_id: int = 102, *, req: JobRequest | None = None, **overrides: Any) -> JobRecord:
    """A JobRecord (running on c1 by default); keyword arguments override fields."""
    base: dict[str, Any] = dict(
        job_id=job_id,
        request=req or request(),
        state="RUNNING",
        submit_time=T0,
        eligible_time=T0,
        start_time=T0 + 1,
        node_list=["c1"],
        alloc_cpus=1,
    )
    base.update(overrides)
    return JobRecord(**base)
