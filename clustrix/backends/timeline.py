"""Gathering a timeline: the ledger's client timestamps plus the scheduler's accounting.

For recorded submissions (:class:`~clustrix.backends.ledger.LedgerEntry`) on one cluster this
runs, through that cluster's transport, ``date`` once (the cluster's UTC offset and clock skew:
schedulers print local wall-clock times without a zone) and the scheduler's per-task times
command (:attr:`SchedulerModule.TASK_TIMES`: ``sacct``, ``qstat -x``, ``qstat -f``, ``qacct -j``),
then builds the pure :class:`~clustrix.gantt.Timeline`. Every instant ends up on the client's
clock. What cannot be had is said in the timeline's notes, never silently dropped: a backend
without accounting (plain ``ssh``), a scheduler that forgot the jobs, a cluster clock that
disagrees with the ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clustrix.backends.array_plan import ArrayPlan
from clustrix.backends.ledger import FINAL_STATES, LedgerEntry
from clustrix.errors import ClustrixError
from clustrix.gantt import TaskBar, Timeline
from clustrix.schedulers.contract import SchedulerModule, TaskTimes
from clustrix.transports.base import Transport

log = logging.getLogger(__name__)

CLOCK_ARGV = ["date", "+%s %z"]
"""Epoch seconds and UTC offset of the cluster's clock (POSIX ``date``; GNU and BSD agree)."""
CLOCK_TOLERANCE_S = 3.0
"""How far a scheduler's queue time may fall outside the client's submit window before the
cluster's clock counts as disagreeing (whole-second accounting, a slow submit command)."""
COMMAND_TIMEOUT_S = 60.0
NOT_IN_ACCOUNTING = "are not in the scheduler's accounting"
"""Words of the note for tasks the scheduler did not report (yet): draw again later."""
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class ClusterClock:
    """How to put a cluster's printed times on the client's clock."""

    utc_offset_s: float = 0.0
    """The cluster's local time minus UTC (``date +%z``)."""
    skew_s: float = 0.0
    """The cluster's clock minus the client's (0 unless it differs by more than a second or two)."""

    def to_client(self, when: datetime | None) -> float | None:
        if when is None:
            return None
        if when.tzinfo is not None:
            cluster_epoch = when.timestamp()
        else:
            cluster_epoch = (when - _EPOCH).total_seconds() - self.utc_offset_s
        return cluster_epoch - self.skew_s


def parse_clock(stdout: str, asked_at: float, answered_at: float) -> ClusterClock:
    """Read ``date '+%s %z'`` output (``1764780000 +0100``) taken between two client instants."""
    fields = stdout.split()
    if len(fields) != 2 or not fields[0].isdigit() or len(fields[1]) != 5 or fields[1][0] not in "+-" \
            or not fields[1][1:].isdigit():
        raise ClustrixError(f"`date '+%s %z'` printed {stdout.strip()!r}, expected epoch seconds and an "
                            "offset like '1764780000 +0100'")
    sign = 1 if fields[1][0] == "+" else -1
    offset_s = sign * (int(fields[1][1:3]) * 3600 + int(fields[1][3:5]) * 60)
    skew = int(fields[0]) + 0.5 - (asked_at + answered_at) / 2  # the printed second, mid-way
    rtt = answered_at - asked_at
    return ClusterClock(utc_offset_s=offset_s, skew_s=skew if abs(skew) > 1.5 + rtt else 0.0)


def read_clock(transport: Transport) -> ClusterClock:
    """The cluster's :class:`ClusterClock`, from one ``date`` over ``transport``."""
    asked = time.time()
    done = transport.run(CLOCK_ARGV, timeout_s=COMMAND_TIMEOUT_S, retry_safe=True)
    answered = time.time()
    if done.returncode != 0:
        raise ClustrixError(f"`date` failed on the cluster (exit {done.returncode}): {done.stderr.strip()}")
    return parse_clock(done.stdout, asked, answered)


@dataclass(frozen=True)
class SchedulerTimes:
    """What the scheduler said about some submissions: times per task id, and notes."""

    by_task: dict[str, TaskTimes]
    clock: ClusterClock
    notes: tuple[str, ...] = ()
    answered: bool = False
    """True when at least one times command succeeded (a task missing from it is news)."""


def query_times(entries: Sequence[LedgerEntry], transport: Transport | None,
                scheduler: SchedulerModule | None) -> SchedulerTimes:
    """Run the scheduler's per-task times commands for ``entries`` (all on one cluster).

    Without a scheduler (plain ssh) nothing is run: the result says so in its note.
    """
    if scheduler is None or scheduler.TASK_TIMES is None or transport is None:
        backend = entries[0].backend if entries else "this backend"
        return SchedulerTimes({}, ClusterClock(), (f"{backend} has no scheduler accounting: the bars show the "
                                                   "client's own timestamps only (began, submitted, result "
                                                   "fetched), not queue wait or run time.",))
    query = scheduler.TASK_TIMES
    notes: list[str] = []
    try:
        clock = read_clock(transport)
    except ClustrixError as exc:
        clock = ClusterClock()
        notes.append(f"could not read the cluster's clock ({exc}); its times are taken as UTC on this "
                     "machine's clock")
    by_task: dict[str, TaskTimes] = {}
    answered = False
    for argv in query.argvs([e.job_id for e in entries]):
        shown = " ".join(argv)
        try:
            done = transport.run(argv, timeout_s=COMMAND_TIMEOUT_S, retry_safe=True)
        except ClustrixError as exc:
            notes.append(f"`{shown}` failed: {exc}; those tasks show the ledger's times only")
            continue
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[0] if done.stderr.strip() else f"exit {done.returncode}"
            kind = "no accounting for these jobs" if query.is_unavailable(done.stderr) else "it failed"
            notes.append(f"`{shown}`: {kind} ({why}); those tasks show the ledger's times only. "
                         f"{query.retention[0].upper()}{query.retention[1:]}.")
            continue
        try:
            by_task.update(query.parse(done.stdout))
            answered = True
        except ClustrixError as exc:
            notes.append(f"could not read the output of `{shown}` ({exc}); those tasks show the ledger's "
                         "times only")
    if by_task:
        notes.append("the scheduler's times are whole seconds: spans of a second or two are approximate "
                     "(a task that ran 0.3 s can show 0 s or 1 s)")
    return SchedulerTimes(by_task, clock, tuple(notes), answered)


def _task_state(ledger_state: str, times: TaskTimes | None) -> tuple[str, str]:
    """The state to show and a detail: the client's final verdict wins (a function that raised is
    FAILED even where the scheduler saw its job exit cleanly); otherwise the scheduler's."""
    scheduler_state = None if times is None or times.status.problem else times.status.state.value
    if ledger_state in FINAL_STATES or scheduler_state is None:
        detail = f"scheduler: {times.status.raw}" if times is not None and times.status.raw and \
            scheduler_state != ledger_state else ""
        return ledger_state, detail
    return scheduler_state, (times.status.reason if times is not None else "")


def bars_for(entry: LedgerEntry, found: SchedulerTimes) -> tuple[list[TaskBar], list[str]]:
    """One :class:`TaskBar` per task of ``entry``, and notes about it (clock disagreements)."""
    clock = found.clock
    keys = list(entry.task_ids) if entry.is_array else [entry.job_id]
    states = list(entry.task_states) if entry.is_array else [entry.state]
    fetched = list(entry.task_finished_at) if entry.is_array else [entry.finished_at]
    plan = ArrayPlan(entry.n_items, entry.chunk_size) if entry.is_array else None
    group = f"#{entry.row} {entry.job_id} {entry.function}"
    notes: list[str] = []
    shift = 0.0
    queued = [clock.to_client(found.by_task[k].queued) for k in keys if k in found.by_task]
    queued_known = [q for q in queued if q is not None]
    if queued_known:
        earliest = min(queued_known)
        low = (entry.prepared_at if entry.prepared_at is not None else entry.submitted_at) - CLOCK_TOLERANCE_S
        if not low <= earliest <= entry.submitted_at + CLOCK_TOLERANCE_S:
            shift = entry.submitted_at - earliest
            notes.append(f"job {entry.job_id}: the scheduler's clock disagrees with this machine's by "
                         f"{-shift:+.0f} s (a wrong clock, or a simulator whose time runs faster); its times are "
                         "shifted so that it was queued when the client submitted it, and its durations are "
                         "the scheduler's own")
    missing = [k for k in keys if k not in found.by_task]
    if found.answered and missing:
        notes.append(f"job {entry.job_id}: {len(missing)} of {len(keys)} tasks {NOT_IN_ACCOUNTING} (it can lag "
                     "its jobs by a few seconds, or have forgotten them): they show the ledger's times only")
    bars = []
    for i, key in enumerate(keys):
        times = found.by_task.get(key)
        state, detail = _task_state(states[i] if i < len(states) else "UNKNOWN", times)
        if plan is not None:
            items = list(plan.items_of(i))
            if len(items) > 1 or plan.n_items != plan.n_tasks:
                detail = f"items {items[0]}-{items[-1]}" + (f"; {detail}" if detail else "")

        def place(when: datetime | None) -> float | None:
            t = clock.to_client(when)
            return None if t is None else t + shift

        bars.append(TaskBar(
            label=key, state=state, group=group, prepared_s=entry.prepared_at, submitted_s=entry.submitted_at,
            queued_s=place(times.queued) if times else None, started_s=place(times.started) if times else None,
            ended_s=place(times.ended) if times else None, fetched_s=fetched[i] if i < len(fetched) else None,
            detail=detail))
    return bars, notes


def build_timeline(entries: Sequence[LedgerEntry], found: dict[int, SchedulerTimes], *, title: str,
                   source: str = "") -> Timeline:
    """The :class:`Timeline` of ``entries`` (oldest first), with ``found[entry.row]``'s times."""
    bars: list[TaskBar] = []
    notes: list[str] = []
    for entry in sorted(entries, key=lambda e: (e.submitted_at, e.row)):
        times = found.get(entry.row, SchedulerTimes({}, ClusterClock()))
        entry_bars, entry_notes = bars_for(entry, times)
        bars += entry_bars
        notes += [n for n in (*times.notes, *entry_notes) if n not in notes]
        if entry.prepared_at is None:
            note = ("some jobs were recorded before the ledger kept the client's own timestamps (schema 3): "
                    "their submit overhead is unknown")
            if note not in notes:
                notes.append(note)
    timeline = Timeline(title=title, tasks=tuple(bars), source=source, notes=tuple(notes))
    origin = timeline.origin_s
    if origin is None:
        return timeline
    label = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(origin))
    return Timeline(title=title, tasks=timeline.tasks, source=source, origin_label=label, notes=timeline.notes)
