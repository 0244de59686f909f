"""SLURM's dependency clauses (``--dependency``), decided over the model records.

Pure functions, as the rest of the scheduling rules in :mod:`clustrix_sim.engine.scheduling`
(which re-exports these names): a pending job's clauses are ``"ok"``, ``"wait"`` or ``"never"``.
"""

from __future__ import annotations

from collections.abc import Mapping

from clustrix_sim.engine.model import ACTIVE_STATES, COMPLETED, FINAL_STATES, JobRecord


class JobIndex:
    """Lookups the dependency rules need: a job reference to the records it names."""

    def __init__(self, jobs: Mapping[int, JobRecord], arrays: Mapping[int, list[JobRecord]]):
        self.jobs = jobs
        self.arrays = arrays

    def resolve(self, ref: str) -> list[JobRecord]:
        """``"123"`` (a job, or every task of array 123) or ``"123_4"`` (one task)."""
        text = str(ref).strip()
        if "_" in text:
            base, _, task = text.partition("_")
            if not (base.isdigit() and task.isdigit()):
                return []
            return [r for r in self.arrays.get(int(base), []) if r.array_task_id == int(task)]
        if not text.isdigit():
            return []
        job_id = int(text)
        if job_id in self.arrays:
            return list(self.arrays[job_id])
        rec = self.jobs.get(job_id)
        return [rec] if rec is not None else []


def dependency_state(rec: JobRecord, index: JobIndex, now: float) -> str:
    """``"ok"``, ``"wait"`` or ``"never"`` for a pending job's dependency clauses."""
    deps = rec.request.dependencies
    if not deps:
        return "ok"
    states = [_clause_state(rec, dep, index, now) for dep in deps]
    if rec.request.dependency_any:
        if "ok" in states:
            return "ok"
        return "never" if all(s == "never" for s in states) else "wait"
    if "never" in states:
        return "never"
    return "ok" if all(s == "ok" for s in states) else "wait"


def _clause_state(rec: JobRecord, dep, index: JobIndex, now: float) -> str:
    if dep.kind == "singleton":
        # SLURM: may start once every earlier job with the same name and user has ended.
        for other in index.jobs.values():
            if other.job_id >= rec.job_id:
                break
            if (other.state in ACTIVE_STATES and other.request.name == rec.request.name
                    and other.request.user == rec.request.user):
                return "wait"
        return "ok"
    targets: list[JobRecord] = []
    for ref in dep.job_ids:
        targets.extend(index.resolve(ref))  # an unknown or purged job lifts its clause
    if not targets:
        return "ok"
    if dep.kind == "aftercorr" and rec.array_task_id is not None:
        targets = [t for t in targets if t.array_task_id == rec.array_task_id] or targets
    if dep.kind == "after":
        started = all(t.start_time is not None or t.state in FINAL_STATES for t in targets)
        if not started:
            return "wait"
        first_start = max(t.start_time if t.start_time is not None else now for t in targets)
        return "ok" if now >= first_start + 60 * dep.minutes else "wait"
    if not all(t.state in FINAL_STATES for t in targets):
        if dep.kind in ("afterok", "aftercorr") and any(
                t.state in FINAL_STATES and t.state != COMPLETED for t in targets):
            return "never"
        if dep.kind == "afternotok" and any(t.state == COMPLETED for t in targets):
            return "never"
        return "wait"
    if dep.kind in ("afterok", "aftercorr"):
        return "ok" if all(t.state == COMPLETED for t in targets) else "never"
    if dep.kind == "afternotok":
        return "ok" if all(t.state != COMPLETED for t in targets) else "never"
    return "ok"  # afterany
