"""What every Grid Engine command shares: the controller call, the caller, and the views of the
engine's records a Grid Engine user sees (one job per job number, its state letters, its task
ranges, its priority and its dates)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from clustrix_sim.controller.protocol import current_user  # noqa: F401 - the front end's modules import it from here
from clustrix_sim.engine.model import JobRecord

__all__ = ["SgeJob", "call", "current_user", "group_jobs", "load_records", "qstat_date", "range_text",
           "state_code", "submit_range", "priorities", "ctime_date", "err"]

ACTIVE = ("PENDING", "RUNNING", "SUSPENDED", "COMPLETING")


def err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")




def call(op: str, tool: str, params: dict | None = None):  # noqa: ANN201 - JSON value
    from clustrix_sim.controller import protocol

    return protocol.call(op, tool, params or {})


def load_records(result: dict) -> list[JobRecord]:
    return [JobRecord.from_dict(item) for item in result.get("jobs", [])]


def job_number(record: JobRecord) -> int:
    return record.array_job_id if record.array_job_id is not None else record.job_id


@dataclass
class SgeJob:
    """One Grid Engine job: a plain job's record, or every task record of an array."""

    number: int
    records: list[JobRecord]

    @property
    def first(self) -> JobRecord:
        return self.records[0]

    @property
    def is_array(self) -> bool:
        return self.first.array_task_id is not None


def group_jobs(records: Iterable[JobRecord]) -> list[SgeJob]:
    """Records grouped by job number, in job-number order, tasks in task order."""
    jobs: dict[int, SgeJob] = {}
    for rec in records:
        jobs.setdefault(job_number(rec), SgeJob(job_number(rec), [])).records.append(rec)
    for job in jobs.values():
        job.records.sort(key=lambda r: r.array_task_id or 0)
    return [jobs[k] for k in sorted(jobs)]


def state_code(record: JobRecord) -> str:
    """qstat's state letters: ``qw hqw r t dr``... (``hqw`` also for an unmet ``-hold_jid``)."""
    if record.state == "PENDING":
        held = record.held or record.reason in ("Dependency", "DependencyNeverSatisfied")
        return "hqw" if held else "qw"
    if record.state == "COMPLETING":
        return "dr"
    if record.state == "SUSPENDED":
        return "s"
    if record.state == "RUNNING" and record.held:
        return "hr"
    return "r"


def _ranges(ids: list[int]) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    i = 0
    ordered = sorted(set(ids))
    while i < len(ordered):
        start = ordered[i]
        if i + 1 == len(ordered):
            out.append((start, start, 1))
            break
        step = ordered[i + 1] - start
        j = i + 1
        while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == step:
            j += 1
        out.append((start, ordered[j], step))
        i = j + 1
    return out


def range_text(ids: list[int]) -> str:
    """qstat's ja-task-ID of grouped tasks: ``1-5:2``; a two-task range prints ``2,3``."""
    parts = []
    for start, end, step in _ranges(ids):
        if start == end:
            parts.append(str(start))
        elif start + step == end:
            parts.append(f"{start},{end}")
        else:
            parts.append(f"{start}-{end}:{step}")
    return ",".join(parts)


def submit_range(first: int, last: int, step: int) -> str:
    """The range qsub prints: always ``first-last:step``."""
    return f"{first}-{last}:{step}"


def qstat_date(sim_seconds: float | None) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.localtime(sim_seconds or 0))


def iso_date(sim_seconds: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(sim_seconds or 0))


def ctime_date(sim_seconds: float | None) -> str:
    return time.asctime(time.localtime(sim_seconds or 0))


def slots_of(record: JobRecord) -> int:
    return max(record.request.cpus_per_task, 1) * max(record.request.ntasks, 1)


def priorities(records: Iterable[JobRecord]) -> dict[int, float]:
    """Grid Engine's normalized priority per record (job_id): 0.5 x normalized urgency (slots
    x 1000) + 0.5 x normalized tickets (all equal here, so 0.5), over the jobs the scheduler
    considers; a held job is not considered and shows 0.00000."""
    live = [r for r in records if r.state in ACTIVE]
    considered = [r for r in live if state_code(r) != "hqw"]
    urgencies = [slots_of(r) for r in considered]
    low, high = (min(urgencies), max(urgencies)) if urgencies else (0, 0)
    chosen = {r.job_id for r in considered}
    out: dict[int, float] = {}
    for rec in live:
        if rec.job_id not in chosen:
            out[rec.job_id] = 0.0
            continue
        n_urg = 0.5 if high == low else (slots_of(rec) - low) / (high - low)
        out[rec.job_id] = 0.5 * n_urg + 0.5 * 0.5
    return out
