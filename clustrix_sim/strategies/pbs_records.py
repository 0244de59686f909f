"""Hypothesis strategies for PBS Pro / Torque job records: plain jobs and arrays in every state.

Public through :mod:`clustrix_sim.strategies`. :func:`pbs_job_records` draws one consistent
server snapshot: ids ascend, an array's subjobs share its request, a job that never started has
no node and no exit status, a signal kill carries its signal, and the request's ``Variable_List``
and names carry the hostile text of the fuzzing notes (commas that wrap ``qstat -f``, quotes and
backslashes that real qstat leaves unescaped in JSON, raw newlines from ``qsub -V``).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from clustrix_sim.engine.model import JobRecord, JobRequest

__all__ = ["PBS_ENGINE_STATES", "PBS_T0", "pbs_job_records", "pbs_variable_values"]

PBS_T0 = 1736157600.0  # Mon Jan  6 10:00:00 2025 UTC
PBS_ENGINE_STATES = ("PENDING", "RUNNING", "COMPLETING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT",
                     "OUT_OF_MEMORY", "NODE_FAIL")
_STARTED_FINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL")
_SIGNALS = (1, 2, 6, 9, 10, 11, 12, 15)
_NAMES = ("dask-worker", "parsl.1712345678.123", "STDIN", "job.sh", "clustrix-f1a2b3", "a" * 40)


def pbs_variable_values(*, hostile: bool = True) -> st.SearchStrategy[str]:
    """Values of ``-v``/``-V`` variables: plain ones and, with ``hostile``, commas, quotes,
    backslashes, ``=`` signs, leading zeros and raw newlines."""
    plain = st.sampled_from(["/home/pbsuser", "en_US.UTF-8", "/usr/bin:/bin", "42", "Linux"])
    if not hostile:
        return plain
    tricky = st.text(st.sampled_from(list("ab ,=\"'\\\n\t0x.") + ["é"]), max_size=30)
    return st.one_of(plain, tricky, st.sampled_from(["005", "1e5", "inf", "nan", "a,b,c", "() {  echo hi\n}", "x\\,y", "C:\\"]))


def _request(draw: Any, *, hostile: bool, array: list[int] | None) -> JobRequest:
    names = ["PBS_O_HOME", "PBS_O_WORKDIR", "PBS_O_HOST", "MY_VAR", "BASH_FUNC_f%%"]
    pairs = [(n, draw(pbs_variable_values(hostile=hostile))) for n in names[:draw(st.integers(2, len(names)))]]
    nodes = draw(st.integers(1, 3))
    mem = draw(st.one_of(st.none(), st.sampled_from([512, 1024, 15 * 1024])))
    opts = {"server": "pbs-server", "submit_dir": "/home/pbsuser", "home": "/home/pbsuser",
            "variable_list": ",".join(f"{k}={v.replace(',', chr(92) + ',')}" for k, v in pairs),
            "submit_args": draw(st.sampled_from(["job.sh", "-N x job.sh", "-J 0-9%2 job.sh"]))}
    return JobRequest(script="#!/bin/bash\n", name=draw(st.sampled_from(_NAMES)), user="pbsuser", uid=1000,
                      work_dir="/home/pbsuser", partition=draw(st.sampled_from(["workq", "batch", "long_queue_name"])),
                      nodes=nodes, ntasks=nodes, cpus_per_task=draw(st.integers(1, 8)), mem_mb=mem,
                      time_limit_s=draw(st.one_of(st.none(), st.integers(60, 7 * 86400))),
                      array_indices=array, array_text=f"0-{len(array) - 1}" if array else None,
                      hold=False, submit_host="login1", flavor_options=opts)


def _record(draw: Any, job_id: int, req: JobRequest, *, array_job_id: int | None, task: int | None) -> JobRecord:
    state = draw(st.sampled_from(PBS_ENGINE_STATES))
    started = state not in ("PENDING",) and not (state == "CANCELLED" and draw(st.booleans()))
    start = PBS_T0 + draw(st.integers(1, 600)) if started else None
    limit = req.time_limit_s
    if state == "TIMEOUT" and limit:  # the mom kills it just past its limit
        duration = limit + draw(st.integers(0, 120))
    else:  # anything else ended before its limit (a job cannot outrun its walltime)
        duration = draw(st.integers(0, (limit - 1) if limit else 90000))
    end = start + duration if start is not None and state in _STARTED_FINAL else None
    if state == "CANCELLED" and start is None:
        end = PBS_T0 + 5
    code, signal = 0, 0
    if state == "FAILED":
        code, signal = draw(st.one_of(st.tuples(st.integers(1, 255), st.just(0)),
                                      st.tuples(st.just(0), st.sampled_from(_SIGNALS))))
    elif state in ("CANCELLED", "TIMEOUT") and start is not None:
        signal = draw(st.sampled_from((9, 15)))
    held = state == "PENDING" and draw(st.booleans())
    return JobRecord(job_id=job_id, request=req, state=state, reason="JobHeldUser" if held else "None",
                     array_job_id=array_job_id, array_task_id=task, submit_time=PBS_T0, eligible_time=PBS_T0,
                     start_time=start, end_time=end, node_list=[f"c{i + 1}" for i in range(req.nodes)] if start else [],
                     alloc_cpus=req.cpus_per_task * req.nodes if start else 0, exit_code=code, exit_signal=signal,
                     held=held, partition=req.partition or "workq",
                     max_rss_mb=_rss(draw, req, state) if start else 0.0,
                     pid=draw(st.integers(100, 99999)) if state in ("RUNNING", "COMPLETING") else None)


def _rss(draw: Any, req: JobRequest, state: str) -> float:
    """Sampled memory: below 90 % of the limit unless the mom killed the job for memory."""
    if req.mem_mb is None:
        return float(draw(st.integers(0, 20000)))
    if state == "OUT_OF_MEMORY":
        return float(draw(st.integers(int(req.mem_mb * 0.9) + 1, req.mem_mb * 2)))
    return float(draw(st.integers(0, int(req.mem_mb * 0.9) - 1)))


def pbs_job_records(*, hostile: bool = True, max_jobs: int = 5, arrays: bool = True
                    ) -> st.SearchStrategy[tuple[JobRecord, ...]]:
    """One server's jobs: 1..``max_jobs`` submissions, plain or (``arrays``) 2-4 subjob arrays."""

    @st.composite
    def build(draw: Any) -> tuple[JobRecord, ...]:
        records: list[JobRecord] = []
        next_id = draw(st.integers(1, 9_999_000))
        for _ in range(draw(st.integers(1, max_jobs))):
            size = draw(st.integers(2, 4)) if arrays and draw(st.booleans()) else 0
            req = _request(draw, hostile=hostile, array=list(range(size)) if size else None)
            if not size:
                records.append(_record(draw, next_id, req, array_job_id=None, task=None))
            for k in range(size):
                records.append(_record(draw, next_id + k, req, array_job_id=next_id, task=k))
            next_id += max(size, 1)
        return tuple(records)

    return build()
