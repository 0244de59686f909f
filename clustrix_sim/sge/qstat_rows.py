"""The rows qstat prints: which records form a row (running tasks one each, pending tasks of one
state grouped into a task range), in Grid Engine's order (running first, then pending by
priority, highest first, then job number)."""

from __future__ import annotations

from dataclasses import dataclass

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.sge.common import group_jobs, priorities, range_text, slots_of, state_code

__all__ = ["Row", "rows"]


@dataclass(frozen=True)
class Row:
    number: int
    prio: float
    name: str
    user: str
    state: str
    when: float
    queue: str  # "" while pending
    slots: int
    tasks: str  # "" for a plain job
    running: bool
    record: JobRecord


def rows(records: list[JobRecord]) -> list[Row]:
    prio = priorities(records)
    running: list[Row] = []
    pending: list[Row] = []
    for job in group_jobs(records):
        waiting: dict[str, list[JobRecord]] = {}
        for rec in job.records:
            code = state_code(rec)
            if rec.state == "PENDING":
                waiting.setdefault(code, []).append(rec)
                continue
            host = rec.node_list[0] if rec.node_list else ""
            running.append(Row(job.number, prio.get(rec.job_id, 0.0), rec.request.name, rec.request.user, code,
                               rec.start_time or 0.0, f"{rec.partition or 'all.q'}@{host}", slots_of(rec),
                               str(rec.array_task_id) if job.is_array else "", True, rec))
        for code, recs in waiting.items():
            first = recs[0]
            tasks = range_text([r.array_task_id for r in recs if r.array_task_id is not None]) if job.is_array else ""
            pending.append(Row(job.number, prio.get(first.job_id, 0.0), first.request.name, first.request.user,
                               code, first.submit_time, "", slots_of(first), tasks, False, first))
    pending.sort(key=lambda r: (-r.prio, r.number))
    return running + pending
