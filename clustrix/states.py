"""One job-state vocabulary for every backend.

Scheduler modules map their own codes (SLURM ``CD``, PBS ``F``, SGE ``Eqw``...) onto
:class:`JobState` with tables kept as data beside their parsers, and always keep the raw code in
:attr:`JobStatus.raw` so nothing the scheduler said is lost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

JobId = str
"""A scheduler job id as the scheduler prints it: ``"123"``, ``"123_4"``, ``"45.server"``, ``"7.3"``."""


class JobState(enum.Enum):
    """Where a job is in its life."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    LOST = "LOST"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True when the job will not change state any more."""
        return self in TERMINAL


TERMINAL: frozenset[JobState] = frozenset(
    {
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.TIMEOUT,
        JobState.OUT_OF_MEMORY,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
        JobState.LOST,
    }
)
"""States a job never leaves. PREEMPTED counts only when the scheduler did not requeue the job."""

ACTIVE: frozenset[JobState] = frozenset({JobState.PENDING, JobState.RUNNING})


@dataclass(frozen=True)
class JobStatus:
    """A job's state as one status command reported it.

    ``raw`` is the scheduler's own code or word (``"CANCELLED by 1000"``, ``"R"``, ``"Eqw"``),
    ``reason`` its pending/failure reason if it gave one, ``exit_code`` the job's exit code when
    known. ``problem`` is set (see :meth:`unreadable`) when this job's row of the output could not
    be read: one bad row concerns its own job only, never the whole batch.
    """

    state: JobState
    raw: str = ""
    reason: str = ""
    exit_code: int | None = None
    problem: str = ""
    """Why this job's status row could not be read (the error, naming the row); "" when it was."""

    @classmethod
    def unreadable(cls, row: str, error: object) -> JobStatus:
        """The status of a job whose row could not be read: UNKNOWN, with the row and the error.

        The poller retries it and, if the row stays unreadable, fails that job alone.
        """
        shown = row if len(row) <= 300 else row[:300] + "..."
        return cls(JobState.UNKNOWN, raw=shown, problem=f"{error}; row: {shown!r}")

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL
