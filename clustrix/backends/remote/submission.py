"""One submitted job (or job array) and the state of each of its tasks, as one record per task.

A :class:`Submission` owns the futures of its items (an array task may run several items, see
:mod:`clustrix.backends.array_plan`) and one :class:`TaskRecord` per scheduler task. Each task
moves through :class:`TaskPhase` in one direction::

    LIVE ──► CANCELLING ──► CANCELLED
      │           │
      │           └──► LIVE        (the cancel command failed: a held decision is replayed)
      └──► DONE                    (the poller resolved it: value, error, or scheduler-side end)

The backend's lock guards every field; this module only holds the data and answers questions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from clustrix.backends.array_plan import ArrayPlan
from clustrix.futures import JobFuture
from clustrix.payload.binding import JobBinding
from clustrix.polling.resolution import Failed, ResultReady
from clustrix.spec import JobPaths
from clustrix.states import JobState, JobStatus


class TaskPhase(enum.Enum):
    """Where one task of a submission stands, from this client's point of view."""

    LIVE = "live"
    """Submitted and watched by the poller."""
    CANCELLING = "cancelling"
    """Our cancel command is running: a decision the poller reaches meanwhile (e.g. CANCELLED,
    seen after our own scancel) is held back so the futures end *cancelled*, not failed."""
    CANCELLED = "cancelled"
    """Cancelled by this client; its futures are cancelled."""
    DONE = "done"
    """Resolved by the poller; its futures hold a value or an error."""


@dataclass(eq=False)
class TaskRecord:
    """One scheduler task (the whole job when there is no array)."""

    key: str
    """The task's id as the scheduler's status output names it (``123_4``, ``123[4].srv``)."""
    phase: TaskPhase = TaskPhase.LIVE
    status: JobStatus | None = None
    """The latest status the poller reported."""
    final_state: str | None = None
    """The state recorded in the ledger once CANCELLED or DONE (``COMPLETED``, ``TIMEOUT``...)."""
    held: ResultReady | Failed | None = None
    """A decision that arrived while CANCELLING, replayed if the cancel fails."""

    @property
    def is_open(self) -> bool:
        """Not yet ended from this client's point of view (LIVE or CANCELLING)."""
        return self.phase in (TaskPhase.LIVE, TaskPhase.CANCELLING)


@dataclass(eq=False)
class Submission:
    """One submitted job (or array) and the futures of its items."""

    job_id: str
    paths: JobPaths
    key: bytes
    binding: JobBinding
    """What its results must be bound to (see :mod:`clustrix.payload.binding`)."""
    plan: ArrayPlan | None
    tasks: list[TaskRecord]
    futures: list[JobFuture] = field(default_factory=list)
    row: int | None = None
    """The ledger row, when the job is recorded."""

    @classmethod
    def new(cls, job_id: str, paths: JobPaths, key: bytes, binding: JobBinding, plan: ArrayPlan | None,
            task_keys: list[str], *, row: int | None = None) -> Submission:
        return cls(job_id, paths, key, binding, plan, [TaskRecord(k) for k in task_keys], row=row)

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    @property
    def task_keys(self) -> list[str]:
        return [t.key for t in self.tasks]

    def file_task(self, task: int) -> int | None:
        """The task number in file names (None for a plain job's unnumbered files)."""
        return None if self.plan is None else task

    def items_of(self, task: int) -> range:
        return range(1) if self.plan is None else self.plan.items_of(task)

    def task_of_item(self, item: int) -> int:
        return 0 if self.plan is None else self.plan.task_of(item)[0]

    def open_tasks(self) -> set[int]:
        return {i for i, t in enumerate(self.tasks) if t.is_open}

    @property
    def all_ended(self) -> bool:
        return not any(t.is_open for t in self.tasks)

    def aggregate_state(self) -> str:
        """One state for the whole submission (the ledger's ``state`` column)."""
        finals = [t.final_state for t in self.tasks if t.final_state is not None]
        if len(finals) >= self.n_tasks:
            bad = [s for s in finals if s != "COMPLETED"]
            return bad[0] if bad else "COMPLETED"
        if finals or any(t.status is not None and t.status.state is JobState.RUNNING for t in self.tasks):
            return "RUNNING"
        return "PENDING"


PENDING = JobStatus(JobState.PENDING, "SUBMITTED")
"""What an item reports before the poller has seen its task."""


class TaskOwner(Protocol):
    """What an item's handle asks of the backend that submitted it."""

    def cancel_task(self, sub: Submission, task: int) -> bool: ...

    def read_log(self, sub: Submission, task: int, which: str) -> str: ...


class ItemHandle:
    """The JobHandle of one item future: cancel its task, report its task's status and logs."""

    def __init__(self, owner: TaskOwner, sub: Submission, item: int):
        self.owner, self.sub, self.item = owner, sub, item
        self.task = sub.task_of_item(item)

    def cancel(self) -> bool:
        return self.owner.cancel_task(self.sub, self.task)

    def status(self) -> JobStatus:
        return self.sub.tasks[self.task].status or PENDING

    def stdout(self) -> str:
        return self.owner.read_log(self.sub, self.task, "stdout")

    def stderr(self) -> str:
        return self.owner.read_log(self.sub, self.task, "stderr")
