"""SLURM per-task times for timelines: ``sacct`` with Submit, Start and End.

One command for every job id (an array's base id covers its tasks):
``sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,Submit,Start,End``.
Times are sacct's default ``SLURM_TIME_FORMAT`` (``2025-01-06T10:00:00``, the cluster's local
time; ``Unknown`` before a job starts or ends). Rows are read one by one as in
:func:`clustrix.schedulers.slurm.commands.parse_status`: a row that cannot be read concerns its
own task (an unreadable status, no times), and a pending array range expands to its tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers.clock_text import iso_local
from clustrix.schedulers.contract import TaskTimes, TaskTimesQuery
from clustrix.schedulers.slurm.commands import (
    MAX_EXPANDED_TASKS,
    _check_ids,
    _make_status,
    _row_keys,
    _split_rows,
    is_accounting_unavailable,
    is_unknown_job_error,
)
from clustrix.states import JobId, JobStatus

log = logging.getLogger(__name__)

TIMES_FIELDS: tuple[str, ...] = ("JobID", "State", "ExitCode", "Submit", "Start", "End")
"""The pinned ``sacct --format`` columns :func:`parse_task_times` reads, in order."""


def task_times_argvs(ids: Sequence[JobId]) -> list[list[str]]:
    """ONE ``sacct`` command for every id, in the pinned :data:`TIMES_FIELDS` format."""
    checked = _check_ids(ids, "sacct")
    return [["sacct", "--noheader", "--parsable2", "--allocations",
             "--format=" + ",".join(TIMES_FIELDS), "--jobs=" + ",".join(checked)]]


def _read(fields: list[str]) -> TaskTimes:
    if len(fields) != len(TIMES_FIELDS):
        raise SchedulerOutputError(f"sacct row has {len(fields)} '|'-separated fields, expected "
                                   f"{len(TIMES_FIELDS)} ({'|'.join(TIMES_FIELDS)})", text="|".join(fields))
    return TaskTimes(_make_status(fields[1], fields[2], ""), queued=iso_local(fields[3]),
                     started=iso_local(fields[4]), ended=iso_local(fields[5]))


def parse_task_times(stdout: str) -> dict[JobId, TaskTimes]:
    """``{task id: TaskTimes}`` from :func:`task_times_argvs` output (``123``, ``123_4``).

    Step rows (``123.batch``) are ignored; a later row for the same key replaces an earlier
    one (a requeued job's newest run), except that an unreadable row never replaces a
    readable one.
    """
    out: dict[JobId, TaskTimes] = {}
    budget = MAX_EXPANDED_TASKS
    for line, fields in _split_rows(stdout, TIMES_FIELDS, "sacct"):
        try:
            keys, step = _row_keys(fields[0], budget)
        except SchedulerOutputError as exc:
            log.warning("ignoring a sacct row whose job id cannot be read (%s): %r", exc, line)
            continue
        if step is not None:
            continue
        budget -= len(keys)
        try:
            times = _read(fields)
        except SchedulerOutputError as exc:
            times = TaskTimes(JobStatus.unreadable(line, f"unreadable sacct row: {exc}"), None, None, None)
        for key in keys:
            if not (times.status.problem and key in out and not out[key].status.problem):
                out[key] = times
    return out


def times_unavailable(stderr: str) -> bool:
    """True when sacct cannot answer here (no slurmdbd) or does not know the ids."""
    return is_accounting_unavailable(stderr) or is_unknown_job_error(stderr)


TASK_TIMES = TaskTimesQuery(
    argvs=task_times_argvs, parse=parse_task_times, is_unavailable=times_unavailable,
    retention="sacct keeps finished jobs as long as slurmdbd keeps them (months, usually); "
              "a cluster without slurmdbd has no sacct at all")
"""``sacct`` Submit/Start/End per task."""
