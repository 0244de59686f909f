"""The timeline of a map (or of several jobs) as plain values, and the totals a user asks for.

A :class:`TaskBar` is one scheduler task (a job, or one array task holding one or more items of
a map) with up to six instants, all epoch seconds on the *client's* clock:

- ``prepared_s``: the client began the submission (pickling, staging the payload);
- ``submitted_s``: the client's submit command returned (``sbatch`` printed the id);
- ``queued_s``: the scheduler put the task in its queue (SLURM Submit, PBS qtime, SGE qsub_time);
- ``started_s`` / ``ended_s``: the scheduler started and ended it;
- ``fetched_s``: the client had its result (or its final state).

Any of them may be None (no accounting, a task that never started, a ledger written before the
client recorded its own times). From them come four spans: *submit overhead* (prepared ->
submitted: pickling, staging and the submit command, all on the client's clock), *queue wait*
(queued -> started),
*run* (started -> ended) and *fetch lag* (ended -> fetched): was it the queue, the jobs, or the
client? Pure: values in, values out (rendering is :mod:`clustrix.gantt.svg` / ``html``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

FAILED_STATES = frozenset({"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                           "LOST", "ERROR", "UNKNOWN"})
"""States a user counts as failures (everything final that is not COMPLETED)."""


def _span(a: float | None, b: float | None) -> float | None:
    """``b - a`` when both are known, never negative (whole-second accounting can round past a
    client timestamp by up to a second)."""
    if a is None or b is None:
        return None
    return max(0.0, b - a)


@dataclass(frozen=True)
class TaskBar:
    """One task's instants (epoch seconds, client clock) and its final or current state."""

    label: str
    """The scheduler's task id (``123_4``, ``45[3].srv``, ``7.4``), or a future's id."""
    state: str
    """A :class:`~clustrix.states.JobState` value (``COMPLETED``...) or a ledger state."""
    group: str = ""
    """The submission this task belongs to (``#3 123 mod.fn``): bars of one group share a band."""
    prepared_s: float | None = None
    submitted_s: float | None = None
    queued_s: float | None = None
    started_s: float | None = None
    ended_s: float | None = None
    fetched_s: float | None = None
    detail: str = ""
    """Extra words for the tooltip (the scheduler's raw state, a reason, the items it held)."""

    @property
    def submit_overhead_s(self) -> float | None:
        """Client began -> its submit command returned (both on the client's clock, so exact)."""
        return _span(self.prepared_s, self.submitted_s)

    @property
    def queue_wait_s(self) -> float | None:
        return _span(self.queued_s, self.started_s)

    @property
    def run_s(self) -> float | None:
        return _span(self.started_s, self.ended_s)

    @property
    def fetch_lag_s(self) -> float | None:
        """Scheduler says it ended -> the client had the result."""
        return _span(self.ended_s, self.fetched_s)

    @property
    def instants(self) -> list[float]:
        return [t for t in (self.prepared_s, self.submitted_s, self.queued_s, self.started_s, self.ended_s,
                            self.fetched_s) if t is not None]

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES


@dataclass(frozen=True)
class SpanStats:
    """One kind of span over the tasks that have it: how many, total, mean, median, max."""

    count: int
    total_s: float
    mean_s: float
    median_s: float
    max_s: float

    @classmethod
    def of(cls, values: Iterable[float | None]) -> SpanStats | None:
        known = [v for v in values if v is not None]
        if not known:
            return None
        return cls(len(known), sum(known), sum(known) / len(known), statistics.median(known), max(known))


@dataclass(frozen=True)
class Totals:
    """What a slow map's owner wants to know first."""

    tasks: int
    by_state: dict[str, int]
    makespan_s: float | None
    """First instant known (client began, or queued) -> last (result fetched, or ended)."""
    submit_overhead: SpanStats | None
    queue_wait: SpanStats | None
    run: SpanStats | None
    fetch_lag: SpanStats | None
    slowest: tuple[TaskBar, ...]
    """The longest-running tasks, longest first."""

    @property
    def failures(self) -> dict[str, int]:
        return {s: n for s, n in self.by_state.items() if s in FAILED_STATES}


@dataclass(frozen=True)
class Timeline:
    """Tasks to draw, what their times came from, and anything the reader must know.

    ``origin_label`` names the instant the axis starts at, in words the gatherer chose (it
    knows the time zone; this module reads no clock). ``notes`` say what is missing and why
    (no accounting on this backend, jobs the scheduler forgot, a clock that disagrees).
    """

    title: str
    tasks: tuple[TaskBar, ...]
    source: str = ""
    origin_label: str = ""
    notes: tuple[str, ...] = ()
    slowest_n: int = field(default=5)

    def __post_init__(self) -> None:
        if not isinstance(self.tasks, tuple):
            object.__setattr__(self, "tasks", tuple(self.tasks))

    @property
    def origin_s(self) -> float | None:
        """The earliest instant of any task: x = 0 of the picture."""
        instants = [t for bar in self.tasks for t in bar.instants]
        return min(instants) if instants else None

    @property
    def end_s(self) -> float | None:
        instants = [t for bar in self.tasks for t in bar.instants]
        return max(instants) if instants else None

    def totals(self) -> Totals:
        tasks = self.tasks
        origin, end = self.origin_s, self.end_s
        timed = sorted((b for b in tasks if b.run_s is not None), key=lambda b: (-(b.run_s or 0.0), b.label))
        return Totals(
            tasks=len(tasks), by_state=dict(Counter(b.state for b in tasks).most_common()),
            makespan_s=None if origin is None or end is None else end - origin,
            submit_overhead=SpanStats.of(_per_group(tasks)),
            queue_wait=SpanStats.of(b.queue_wait_s for b in tasks),
            run=SpanStats.of(b.run_s for b in tasks),
            fetch_lag=SpanStats.of(b.fetch_lag_s for b in tasks),
            slowest=tuple(timed[: self.slowest_n]),
        )


def _per_group(tasks: Sequence[TaskBar]) -> list[float | None]:
    """Submit overhead counted once per submission (its tasks share one submit)."""
    seen: dict[str, float | None] = {}
    for bar in tasks:
        key = bar.group or bar.label
        value = bar.submit_overhead_s
        if key not in seen or (seen[key] is None and value is not None):
            seen[key] = value
    return list(seen.values())


def format_duration(seconds: float | None) -> str:
    """``-`` / ``0.4 s`` / ``12 s`` / ``3 min 05 s`` / ``2 h 07 min``: readable at a glance."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
