"""Deterministic PBS job records for the simulator's format tests (times in UTC)."""

from __future__ import annotations

from clustrix_sim.engine.model import JobRecord, JobRequest

T0 = 1736157600  # Mon Jan  6 10:00:00 2025 UTC
VARIABLES = ("PBS_O_HOME=/home/pbsuser,PBS_O_LANG=en_US.UTF-8,PBS_O_LOGNAME=pbsuser,"
             "PBS_O_PATH=/usr/local/bin:/usr/bin:/bin,PBS_O_SHELL=/bin/bash,PBS_O_WORKDIR=/home/pbsuser,"
             "PBS_O_SYSTEM=Linux,PBS_O_QUEUE=workq,PBS_O_HOST=pbs-master")


def request(**kw) -> JobRequest:
    opts = {"server": "pbs-master", "submit_dir": "/home/pbsuser", "home": "/home/pbsuser",
            "variable_list": VARIABLES, "submit_args": "job.sh", "select_text": "1:ncpus=4:mem=15GB"}
    opts.update(kw.pop("flavor_options", {}))
    base = dict(script="#!/bin/bash\n", name="dask-worker", user="pbsuser", uid=1000, work_dir="/home/pbsuser",
                partition="workq", nodes=1, ntasks=1, cpus_per_task=4, mem_mb=15 * 1024, time_limit_s=1800,
                submit_host="pbs-master", flavor_options=opts)
    base.update(kw)
    return JobRequest(**base)


def record(job_id: int = 123, **kw) -> JobRecord:
    base = dict(job_id=job_id, request=kw.pop("req", None) or request(), state="COMPLETED", partition="workq",
                submit_time=T0, eligible_time=T0, start_time=T0 + 1, end_time=T0 + 6, node_list=["pbs-slave-1"],
                alloc_cpus=4, alloc_mem_mb=15 * 1024)
    base.update(kw)
    return JobRecord(**base)
