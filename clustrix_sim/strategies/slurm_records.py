"""Hypothesis strategies for SLURM job records, and the names and reasons inside them.

The records every output strategy renders (:mod:`clustrix_sim.strategies.slurm_outputs`); public
through :mod:`clustrix_sim.strategies` (import from there).

- :func:`job_records` -> ``tuple[JobRecord, ...]``: one consistent queue/accounting snapshot.
- :func:`job_names`, :func:`job_reasons` -> ``str``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from clustrix_sim.engine.model import JobRecord, JobRequest
from clustrix_sim.slurm.common import array_range_text
from clustrix_sim.slurm.states import ALL_STATES

__all__ = [
    "ALL_STATES",
    "DURATIONS_S",
    "MAX_JOB_ID",
    "PENDING_REASONS",
    "T0",
    "job_names",
    "job_reasons",
    "job_records",
]

T0 = 1736157600.0  # 2025-01-06T10:00:00Z: every generated clock value is at or after it
MAX_JOB_ID = 67_043_328  # SLURM's default MaxJobId

# --- states and what goes with them ----------------------------------------------------------------

# Never started (or waiting to start again): no nodes, no start time, exit 0:0.
_WAITING = frozenset({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD"})
# Holding an allocation, no end time yet (COMPLETING/STAGE_OUT: the script has ended).
_ALLOCATED = frozenset({"RUNNING", "SUSPENDED", "CONFIGURING", "RESIZING", "SIGNALING",
                        "STOPPED", "COMPLETING", "STAGE_OUT"})
_SCRIPT_ENDED = frozenset({"COMPLETING", "STAGE_OUT"})

PENDING_REASONS: tuple[str, ...] = (
    "Priority", "Resources", "Dependency", "DependencyNeverSatisfied", "BeginTime",
    "JobHeldUser", "JobHeldAdmin", "PartitionTimeLimit", "PartitionNodeLimit", "PartitionDown",
    "ReqNodeNotAvail", "JobArrayTaskLimit", "QOSMaxJobsPerUserLimit", "AssocGrpCPULimit",
    "Licenses", "Reservation", "None",
    # squeue's %r prints the state description when there is one: spaces and commas.
    "ReqNodeNotAvail, UnavailableNodes:c[3-4]",
    "ReqNodeNotAvail, Reserved for maintenance",
)
"""SLURM pending reasons (``src/common/job_state_reason.c``) plus descriptions with spaces."""

_END_REASONS: dict[str, tuple[str, ...]] = {
    "REQUEUED": ("BeginTime", "None"),
    "REQUEUE_HOLD": ("JobHeldAdmin", "JobHeldUser"),
    "RESV_DEL_HOLD": ("JobHeldAdmin", "Reservation"),
    "FAILED": ("NonZeroExitCode", "RaisedSignal", "JobLaunchFailure"),
    "SPECIAL_EXIT": ("JobHeldAdmin", "NonZeroExitCode"),
    "TIMEOUT": ("TimeLimit",),
    "OUT_OF_MEMORY": ("OutOfMemory",),
    "NODE_FAIL": ("NodeDown", "None"),
    "CANCELLED": ("None", "Dependency", "Priority", "JobHeldUser"),
}
_SIGNALS = (1, 2, 6, 9, 10, 11, 12, 15)  # HUP INT ABRT KILL USR1 SEGV USR2 TERM

_TYPICAL_NAMES = ("wrap", "submitit", "dask-worker", "parsl.slurm.1712345678.123", "train",
                  "clustrix-f1a2b3", "job.sh")
# No control characters and no line/paragraph separators: a name can not contain a line break.
_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))


def job_names(*, hostile: bool = True, max_size: int = 300) -> st.SearchStrategy[str]:
    """Job names (``--job-name`` takes any text): typical ones and, with ``hostile``, the cases
    of the fuzzing notes: spaces (columns shift), unicode, ``|`` (breaks ``--parsable2``; sacct
    does not escape it) and very long names (fixed-width output truncates)."""
    typical = st.sampled_from(_TYPICAL_NAMES)
    if not hostile:
        return typical
    return st.one_of(
        typical,
        st.text(_PRINTABLE, min_size=1, max_size=24),
        st.tuples(typical, st.sampled_from(["|", " ", " | ", "||"]), typical).map("".join),
        st.text(_PRINTABLE, min_size=100, max_size=max(max_size, 100)),
    )


def job_reasons(*, hostile: bool = False) -> st.SearchStrategy[str]:
    """Reason words; with ``hostile`` also free text with ``|`` inside or at the end, which the
    real controller never prints but a parser must not misread."""
    real = st.sampled_from(PENDING_REASONS + ("NonZeroExitCode", "TimeLimit", "OutOfMemory"))
    if not hostile:
        return real
    word = st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=8)
    return st.one_of(
        real,
        st.tuples(word, st.sampled_from(["|", "||", ", ", " "]), word).map("".join),
        st.tuples(word, st.just("|")).map("".join),
        st.just("|"),
    )


# --- records ----------------------------------------------------------------------------------------

# job durations in seconds, spread over every shape a time field takes (M:SS ... D-HH:MM:SS)
DURATIONS_S = st.one_of(st.integers(0, 59), st.integers(60, 3599), st.integers(3600, 86399),
                        st.integers(86400, 60 * 86400))
_ANY_EXIT = st.tuples(st.integers(0, 255), st.integers(0, 127))


def _exit_pair(draw: Any, state: str, started: bool) -> tuple[int, int]:
    """``(exit code, signal)`` as sacct shows them, typical for ``state``, sometimes arbitrary."""
    if state in _WAITING or (state in _ALLOCATED and state not in _SCRIPT_ENDED):
        return 0, 0
    if state == "COMPLETED":
        return 0, 0
    if not started:  # cancelled/revoked/deadline before it ever ran
        return 0, 0
    typical = {
        "FAILED": st.one_of(st.tuples(st.integers(1, 255), st.just(0)),
                            st.tuples(st.just(0), st.sampled_from(_SIGNALS))),
        "TIMEOUT": st.sampled_from([(0, 15), (0, 0), (0, 9)]),
        "OUT_OF_MEMORY": st.sampled_from([(0, 125), (0, 9), (0, 0)]),
        "CANCELLED": st.sampled_from([(0, 15), (0, 9), (0, 0)]),
        "NODE_FAIL": st.sampled_from([(0, 0), (1, 0)]),
    }.get(state, _ANY_EXIT)
    return draw(st.one_of(typical, _ANY_EXIT))


def _request(draw: Any, names: st.SearchStrategy[str], indices: list[int] | None,
             throttle: int | None) -> JobRequest:
    array_text = None
    if indices is not None:
        array_text = array_range_text(indices, throttle)[1:-1]  # "[0-3%2]" -> "0-3%2"
    return JobRequest(
        script="#!/bin/sh\ntrue\n",
        name=draw(names),
        user=draw(st.sampled_from(["alice", "bob", "svc-ci"])),
        uid=draw(st.integers(1000, 65000)),
        work_dir=draw(st.sampled_from(["/data", "/home/alice/run 1", "/scratch/ü"])),
        partition=draw(st.sampled_from(["normal", "debug", "gpu"])),
        account=draw(st.sampled_from([None, "root", "proj-42"])),
        qos=draw(st.sampled_from([None, "normal", "long"])),
        nodes=draw(st.integers(1, 4)),
        cpus_per_task=draw(st.integers(1, 64)),
        mem_mb=draw(st.one_of(st.none(), st.integers(1, 512 * 1024))),
        time_limit_s=draw(st.one_of(st.none(), st.just(0), st.integers(60, 366 * 86400))),
        array_indices=indices,
        array_max_parallel=throttle,
        array_text=array_text,
    )


def _record(draw: Any, job_id: int, request: JobRequest, state: str,
            reasons: st.SearchStrategy[str] | None, array: tuple[int, int] | None) -> JobRecord:
    started = state in _ALLOCATED or (state not in _WAITING and state not in ("REVOKED",)
                                      and (state != "CANCELLED" or draw(st.booleans())))
    ended = state not in _WAITING and state not in _ALLOCATED or state in _SCRIPT_ENDED
    submit = T0 + draw(st.integers(0, 30 * 86400))
    start = submit + draw(st.integers(0, 7 * 86400)) if started else None
    end = (start or submit) + draw(DURATIONS_S) if ended else None
    if reasons is not None:
        reason = draw(reasons)
    elif state == "PENDING":
        reason = draw(st.sampled_from(PENDING_REASONS))
    else:
        reason = draw(st.sampled_from(_END_REASONS.get(state, ("None",))))
    # accounting's Reason: the last reason the job could not run yet (kept after it ran)
    acct_reason = reason if reasons is not None or state == "PENDING" else draw(
        st.sampled_from(("None", "None", "JobHeldUser", "Dependency", "DependencyNeverSatisfied")))
    code, signal = _exit_pair(draw, state, started)
    nodes = draw(st.lists(st.sampled_from([f"c{i}" for i in range(1, 13)] + ["n001", "n002"]),
                          min_size=1, max_size=request.nodes, unique=True)) if started else []
    final = state not in _WAITING and state not in _ALLOCATED
    return JobRecord(
        job_id=job_id,
        request=request,
        state=state,
        reason=reason,
        acct_reason=acct_reason,
        array_job_id=array[0] if array else None,
        array_task_id=array[1] if array else None,
        submit_time=submit,
        eligible_time=submit,
        start_time=start,
        end_time=end,
        node_list=nodes,
        alloc_cpus=request.ntasks * request.cpus_per_task if started else 0,
        exit_code=code,
        exit_signal=signal,
        cancelled_by_uid=(draw(st.one_of(st.none(), st.integers(0, 4_294_967_294)))
                          if state == "CANCELLED" else None),
        # Finished jobs leave squeue after MinJobAge but stay in accounting.
        visible_in_queue=draw(st.booleans()) if final else True,
    )


def _check_states(states: Sequence[str]) -> tuple[str, ...]:
    if isinstance(states, str):
        raise TypeError(f"states must be a sequence of state names, not the string {states!r}; "
                        f"write states=({states!r},)")
    chosen = tuple(states)
    unknown = [s for s in chosen if s not in ALL_STATES]
    if unknown or not chosen:
        raise ValueError(f"unknown SLURM job state(s) {unknown or chosen!r}; choose from "
                         f"{', '.join(ALL_STATES)}")
    return chosen


def job_records(
    *,
    states: Sequence[str] = ALL_STATES,
    arrays: bool = True,
    names: st.SearchStrategy[str] | None = None,
    reasons: st.SearchStrategy[str] | None = None,
    min_jobs: int = 0,
    max_jobs: int = 6,
    max_tasks: int = 6,
) -> st.SearchStrategy[tuple[JobRecord, ...]]:
    """A consistent set of simulator :class:`JobRecord`\\ s: what the controller would hand to
    ``squeue``/``sacct`` at one moment.

    Between ``min_jobs`` and ``max_jobs`` jobs with unique ids (up to :data:`MAX_JOB_ID`); with
    ``arrays`` some are job arrays of up to ``max_tasks`` tasks sharing one request (indices up to
    MaxArraySize, sometimes a ``%throttle``), so pending tasks fold into ``123_[5-9%2]`` rows.
    Every state in ``states`` (default: all 24 long names SLURM prints, flag states included)
    comes with coherent times, nodes, exit code and signal (sometimes arbitrary ones),
    ``CANCELLED by <uid>``, and a reason (``reasons`` overrides the per-state choice). ``names``
    defaults to :func:`job_names` (spaces, unicode, ``|``, very long). Finished records are
    sometimes purged from the queue (``visible_in_queue=False``) but stay in accounting.
    """
    chosen = _check_states(states)
    if not 0 <= min_jobs <= max_jobs or max_tasks < 1:
        raise ValueError(f"need 0 <= min_jobs <= max_jobs and max_tasks >= 1; got "
                         f"min_jobs={min_jobs} max_jobs={max_jobs} max_tasks={max_tasks}")
    name_st = names if names is not None else job_names()
    state_st = st.sampled_from(chosen)

    @st.composite
    def build(draw: Any) -> tuple[JobRecord, ...]:
        bases = draw(st.lists(st.integers(1, MAX_JOB_ID), min_size=min_jobs, max_size=max_jobs,
                              unique=True))
        next_id = max(bases, default=0) + 1  # array tasks after the first get fresh ids
        records: list[JobRecord] = []
        for base in bases:
            if not (arrays and draw(st.booleans())):
                records.append(_record(draw, base, _request(draw, name_st, None, None),
                                       draw(state_st), reasons, None))
                continue
            top = draw(st.sampled_from([9, 99, 1000, 4_000_000]))
            indices = sorted(draw(st.lists(st.integers(0, top), min_size=1, max_size=max_tasks,
                                           unique=True)))
            throttle = draw(st.one_of(st.none(), st.integers(1, 300)))
            request = _request(draw, name_st, indices, throttle)
            for position, index in enumerate(indices):
                job_id = base if position == 0 else next_id
                next_id += position != 0
                records.append(_record(draw, job_id, request, draw(state_st), reasons,
                                       (base, index)))
        return tuple(records)

    return build()
