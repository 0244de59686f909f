"""PBS Pro and Torque per-task times for timelines, from the status output they already print.

PBS Pro: the pinned status command ``qstat -x -f -F json -t <ids>`` (history included, subjobs
expanded) carries ``qtime`` (entered the queue), ``stime`` (started) and, once finished,
``obittime`` (the job's obituary: it ended). Torque: ``qstat -f -t <ids>`` carries ``qtime``,
``start_time`` and ``comp_time``, but only until ``keep_completed`` expires. Where no end
attribute is printed, a finished job's ``mtime`` (its record's last change) stands in. Times are
``ctime()`` text in the cluster's local time (older Torque prints epoch seconds; both are read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers.clock_text import ctime_local
from clustrix.schedulers.contract import TaskTimes
from clustrix.schedulers.pbs.states import status_from_attrs
from clustrix.states import JobId, JobState, JobStatus

QUEUED_KEYS = ("qtime", "ctime")
STARTED_KEYS = ("stime", "start_time")
ENDED_KEYS = ("obittime", "comp_time")


def _first_time(attrs: Mapping[str, object], keys: Sequence[str]) -> datetime | None:
    for key in keys:
        value = attrs.get(key)
        if value is not None and str(value).strip():
            return ctime_local(str(value))
    return None


def times_from_attrs(job_id: JobId, attrs: Mapping[str, object], *,
                     states: Mapping[str, tuple[JobState | str, str]],
                     exec_codes: Mapping[int, tuple[JobState, str]], exit_key: str) -> TaskTimes:
    """One job's :class:`TaskTimes` from its flattened ``qstat -f`` attributes."""
    status = status_from_attrs(job_id, attrs, states=states, exec_codes=exec_codes, exit_key=exit_key)
    ended = _first_time(attrs, ENDED_KEYS)
    if ended is None and status.is_terminal:
        ended = _first_time(attrs, ("mtime",))
    return TaskTimes(status, queued=_first_time(attrs, QUEUED_KEYS), started=_first_time(attrs, STARTED_KEYS),
                     ended=ended)


def read_records(records: Mapping[str, object],
                 read: Callable[[JobId, Mapping[str, object]], TaskTimes]) -> dict[JobId, TaskTimes]:
    """``{job id: read(job id, attrs)}``; an unreadable record concerns its own job only (an
    unreadable status, no times), never the batch."""
    out: dict[JobId, TaskTimes] = {}
    for job_id, attrs in records.items():
        try:
            if not isinstance(attrs, Mapping):
                raise SchedulerOutputError(f"qstat: job {job_id} is not a record", text=repr(attrs))
            out[job_id] = read(job_id, attrs)
        except SchedulerOutputError as exc:
            shown = f"{job_id}: {attrs!r}"
            out[job_id] = TaskTimes(JobStatus.unreadable(shown, exc), None, None, None)
    return out
