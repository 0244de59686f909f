"""Job arrays: how items are packed into array tasks (the bar over their futures is clustrix.api.progress).

Every ``submit_array``/``map`` becomes ONE array job. Items are packed into contiguous chunks, one
chunk per array task, because a scheduler spends seconds per task (scheduling, prolog, a Python
start-up) while many user functions take milliseconds. How many items share a task, first match:

1. a per-call override: ``f.map(items, chunk_size=N)``, ``ClusterExecutor.map(fn, items,
   chunksize=N)``, ``submit_array(..., chunk_size=N)``;
2. ``profile.array_chunk_size`` (the ``array_chunk_size`` key of a profile): that many per task;
3. automatic: one item per task up to :data:`AUTO_MAX_TASKS` items, beyond that
   ``ceil(n / AUTO_MAX_TASKS)`` items per task. 500 tasks keeps far below SLURM's default
   ``MaxArraySize`` (1001) and the per-user RPC pressure peers ran into (submitit #1759), while
   still giving the scheduler plenty of tasks to spread over nodes.

The automatic rule favours parallelism because it cannot know how long an item takes: for items
that run for minutes or hours, one item per task is right (chunking would run them one after
another inside a task). For items of milliseconds to seconds each, every task pays a job start
(seconds on a real cluster) for very little work: set a chunk size so that each task runs a few
minutes of work, e.g. ``chunk_size=ceil(n_items / cores_you_expect)``. The last task may be shorter.

Task ``t`` runs items ``t*chunk .. t*chunk+chunk-1`` in order and its result file holds one
envelope per item in the same order, so results map back to input order by arithmetic alone.

A site caps the tasks of one array (SLURM ``MaxArraySize``, PBS ``max_array_size``, SGE
``max_aj_tasks``; the profile's ``max_array_size``). A plan with more tasks is cut into
:class:`ArrayPart` s of at most that many tasks, each submitted as its own array over a
contiguous run of items (:meth:`ArrayPlan.split`); the caller still gets one future per item, in
input order, and cancelling the map cancels every part. The chunking is never changed to fit the
limit: that would run long items one after another instead of side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from clustrix.errors import ResourceError

AUTO_MAX_TASKS = 500

T = TypeVar("T")


@dataclass(frozen=True)
class ArrayPlan:
    """How ``n_items`` items map onto ``n_tasks`` array tasks of ``chunk_size`` items each."""

    n_items: int
    chunk_size: int

    def __post_init__(self) -> None:
        if self.n_items < 1:
            raise ResourceError("array size", self.n_items, "at least one item")
        if self.chunk_size < 1:
            raise ResourceError("array_chunk_size", self.chunk_size, "a whole number >= 1")

    @classmethod
    def for_items(cls, n_items: int, *, chunk_size: int | None = None,
                  max_tasks: int = AUTO_MAX_TASKS) -> ArrayPlan:
        """The plan for ``n_items``: a fixed ``chunk_size``, or automatic (module docstring)."""
        if chunk_size is None:
            chunk_size = max(1, math.ceil(n_items / max_tasks)) if n_items > 0 else 1
        return cls(n_items, chunk_size)

    @property
    def n_tasks(self) -> int:
        return math.ceil(self.n_items / self.chunk_size)

    def task_of(self, item: int) -> tuple[int, int]:
        """``(task index, position within the task)`` of item ``item``."""
        if not 0 <= item < self.n_items:
            raise IndexError(f"item {item} is outside the array of {self.n_items} items")
        return divmod(item, self.chunk_size)

    def items_of(self, task: int) -> range:
        """The item indices task ``task`` runs, in order."""
        if not 0 <= task < self.n_tasks:
            raise IndexError(f"task {task} is outside the array of {self.n_tasks} tasks")
        start = task * self.chunk_size
        return range(start, min(start + self.chunk_size, self.n_items))

    def split(self, max_tasks: int | None) -> list[ArrayPart]:
        """This plan as parts of at most ``max_tasks`` tasks each (one part when it fits)."""
        if max_tasks is None or self.n_tasks <= max_tasks:
            return [ArrayPart(0, self)]
        if isinstance(max_tasks, bool) or not isinstance(max_tasks, int) or max_tasks < 1:
            raise ResourceError("max_array_size", max_tasks, "a whole number of tasks >= 1")
        items_per_part = max_tasks * self.chunk_size
        return [ArrayPart(start, ArrayPlan(min(items_per_part, self.n_items - start), self.chunk_size))
                for start in range(0, self.n_items, items_per_part)]

    def chunks(self, items: Sequence[T]) -> list[list[T]]:
        """``items`` split into one list per task."""
        if len(items) != self.n_items:
            raise ValueError(f"plan is for {self.n_items} items, got {len(items)}")
        return [list(items[r.start:r.stop]) for r in (self.items_of(t) for t in range(self.n_tasks))]


@dataclass(frozen=True)
class ArrayPart:
    """One array job of a split plan: items ``first_item ..`` laid out by ``plan``."""

    first_item: int
    plan: ArrayPlan

    @property
    def items(self) -> range:
        """The indices (in the whole map) of the items this part runs."""
        return range(self.first_item, self.first_item + self.plan.n_items)


def parallel_shares(max_parallel: int | None, n_parts: int) -> list[int | None]:
    """Each part's ``%limit`` so that the parts together keep to ``max_parallel`` running tasks.

    The parts of a split map run side by side; each gets an even share (at least 1, so with more
    parts than ``max_parallel`` the total is ``n_parts``). None stays None (no limit).
    """
    if max_parallel is None:
        return [None] * n_parts
    base, extra = divmod(max_parallel, n_parts)
    return [max(1, base + (1 if i < extra else 0)) for i in range(n_parts)]


def check_chunk_size(value: object, name: str = "chunk_size") -> int | None:
    """``value`` as a chunk size (None = the profile's or automatic); ValueError naming a bad one."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of items per array task (>= 1) or None "
                         f"for the automatic rule, got {value!r}")
    return value
