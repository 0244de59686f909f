"""Reading a status output row by row: one unreadable row is its own job's problem, not the batch's.

Every parser reads the records of one batched status command (``sacct`` lines, ``qstat -f``
records, ``qstat -xml`` job elements) for many jobs at once. A record it cannot read becomes
:meth:`JobStatus.unreadable` for *that* job — UNKNOWN, with the error and the record — and the
poller retries it, then fails that job alone; the other jobs' statuses stand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from clustrix.errors import SchedulerOutputError
from clustrix.states import JobId, JobStatus


def each_record(records: Iterable[tuple[JobId, object]], read: Callable[[JobId, object], JobStatus],
                describe: Callable[[JobId, object], str]) -> dict[JobId, JobStatus]:
    """``{job id: read(job id, record)}``; a record ``read`` refuses (SchedulerOutputError)
    maps to an unreadable status naming ``describe(job id, record)``."""
    out: dict[JobId, JobStatus] = {}
    for job_id, record in records:
        try:
            out[job_id] = read(job_id, record)
        except SchedulerOutputError as exc:
            out[job_id] = JobStatus.unreadable(describe(job_id, record), exc)
    return out
