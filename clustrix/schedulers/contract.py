"""The scheduler-module contract: what every ``clustrix.schedulers.<name>`` package provides.

Consumers (the launcher, the status source) are typed against :class:`SchedulerModule` and call
its members directly; optional abilities (a fallback status command, per-job accounting,
finding a submission again by its tag, per-task times for timelines) are explicit attributes that are ``None`` where a
scheduler lacks them, so nobody probes modules with ``getattr``/``hasattr``. A test checks that
every registered scheduler satisfies the protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from clustrix.spec import ArraySpec, JobPaths, JobSpec
from clustrix.states import JobId, JobStatus

StatusParser = Callable[[str], "dict[JobId, JobStatus]"]


@dataclass(frozen=True)
class FallbackStatus:
    """A second status command, for sites where the primary one is switched off.

    SLURM's ``sacct`` needs accounting (slurmdbd); without it ``squeue`` still answers for jobs
    the controller remembers. PBS Pro's ``qstat -F json`` is missing from old servers.
    """

    argv: Callable[[Sequence[JobId]], list[str]]
    parse: StatusParser
    primary_unavailable: Callable[[str], bool]
    """True when the primary command's stderr says it cannot work at this site at all."""


@dataclass(frozen=True)
class Accounting:
    """Per-job accounting, asked for jobs that left the queue (SGE's ``qacct -j N``)."""

    argv: Callable[[JobId], list[str]]
    parse: StatusParser


@dataclass(frozen=True)
class TaskTimes:
    """When the scheduler saw one job or array task, and how it ended, as its accounting says.

    Times are what the scheduler printed: a *naive* ``datetime`` is the cluster's local wall
    clock (``sacct``, ``qstat``, ``qacct`` print local time without a zone), an aware one an
    absolute instant (an epoch the scheduler printed). None where the scheduler has no value
    yet (a pending job has no start). Whole seconds: no scheduler prints more.
    """

    status: JobStatus
    queued: datetime | None
    """When the job entered the queue (SLURM ``Submit``, PBS ``qtime``/``ctime``, SGE ``qsub_time``)."""
    started: datetime | None
    ended: datetime | None


@dataclass(frozen=True)
class TaskTimesQuery:
    """Per-task submit/start/end times, for a timeline of where a map's time went.

    ``argvs(ids)`` are the commands to run for these job ids: one for all of them where the
    scheduler can batch (``sacct``, ``qstat``), one per job where it cannot (``qacct -j``).
    ``parse`` reads one command's stdout into ``{task id: TaskTimes}`` keyed like
    :meth:`SchedulerModule.task_ids` (and the job id itself for a single job).
    ``is_unavailable(stderr)`` is True when a failed command means "no accounting here" or "the
    scheduler forgot these jobs" rather than a broken command.
    """

    argvs: Callable[[Sequence[JobId]], list[list[str]]]
    parse: Callable[[str], dict[JobId, TaskTimes]]
    is_unavailable: Callable[[str], bool]
    retention: str
    """What this scheduler keeps and for how long, in words, for a timeline's notes."""


def effective_time_s(time_s: int, granularity_s: int) -> int:
    """The limit a scheduler enforces for ``time_s``: rounded up to whole ``granularity_s``."""
    return -(-time_s // granularity_s) * granularity_s


@dataclass(frozen=True)
class TaggedSubmit:
    """Submissions the scheduler can be asked about afterwards, by a tag they carry.

    A submit command that fails *ambiguously* (the connection dropped after sending it, it
    timed out, or the controller answered "Socket timed out" after the request reached it)
    may still have created the job. Before submitting again, the launcher runs
    ``lookup_argv(tag)`` — one status query over this user's jobs — and adopts the job id
    ``parse_lookup(stdout, tag)`` finds instead of creating a twin. SLURM keeps the tag as the
    job's comment (``sbatch --comment``, ``squeue %k``).
    """

    submit_argv: Callable[[str, str], list[str]]
    """``(script_path, tag)`` -> the submit command, tagged."""
    lookup_argv: Callable[[str], list[str]]
    """``tag`` -> one status query listing this user's jobs with their tags."""
    parse_lookup: Callable[[str, str], JobId | None]
    """``(stdout, tag)`` -> the id of the job carrying ``tag``, or None."""


@runtime_checkable
class SchedulerModule(Protocol):
    """One batch system, as pure functions from values to text and argv, and from text to values.

    Every function may raise :class:`~clustrix.errors.SchedulerOutputError` (unreadable output)
    or :class:`~clustrix.errors.ResourceError` (a value the scheduler cannot express); none does
    I/O. An unknown state code maps to ``JobState.UNKNOWN`` with a logged warning.
    """

    NAME: str
    """``"slurm"``, ``"pbs"``, ``"torque"`` or ``"sge"``."""
    TIME_GRANULARITY_S: int
    """The unit the scheduler counts a walltime limit in; a limit is rounded up to a multiple."""
    FALLBACK_STATUS: FallbackStatus | None
    ACCOUNTING: Accounting | None
    TAGGED_SUBMIT: TaggedSubmit | None
    """None where the scheduler keeps no tag a status query shows (see :class:`TaggedSubmit`)."""
    TASK_TIMES: TaskTimesQuery | None
    """Per-task queue/start/end times (see :class:`TaskTimesQuery`); None where none exist."""

    def render_script(self, spec: JobSpec, paths: JobPaths) -> str:
        """The whole batch script: directives, then the body that runs the job."""
        ...

    def submit_argv(self, script_path: str) -> list[str]:
        """The command that submits the script."""
        ...

    def parse_submit(self, stdout: str) -> JobId:
        """The job id the submit command printed."""
        ...

    def status_argv(self, ids: Sequence[JobId]) -> list[str]:
        """ONE batched status command for every id."""
        ...

    def parse_status(self, stdout: str) -> dict[JobId, JobStatus]:
        """Each job's status, from what :meth:`status_argv` printed."""
        ...

    def cancel_argv(self, ids: Sequence[JobId]) -> list[str]:
        """The command that cancels these jobs."""
        ...

    def task_ids(self, job_id: JobId, array: ArraySpec) -> list[JobId]:
        """The id of each array task of an array job."""
        ...

    def log_paths(self, paths: JobPaths, task: int | None = None) -> tuple[str, str]:
        """Where the scheduler writes a job's (or task's) stdout and stderr."""
        ...

    def is_unknown_job_error(self, stderr: str) -> bool:
        """True when a command failed only because some ids are unknown (finished or purged)."""
        ...
