"""Turn what the poller knows about one job into a decision: keep waiting, load the result, or fail.

Pure functions, no I/O and no clock: the poller passes the evidence (the scheduler's last status or
its absence, the result/sentinel/stderr file contents fetched in bulk) and how long the job has been
terminal or missing, and gets back a :class:`Decision`.

The rules, in order (peers got each of these wrong; see shared/reference/peer-executors.md §0.5-6):

1. A readable result file always wins, whatever the scheduler says: the value (or the remote
   exception) is what the user asked for.
2. A terminal state in which the runner may have finished (COMPLETED, FAILED) but no result yet:
   wait ``result_grace_s`` for NFS attribute caches to catch up before failing. A non-zero
   sentinel proves the runner ended without a result, so there is nothing to wait for.
3. A terminal state in which the scheduler killed the job (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL,
   CANCELLED, PREEMPTED): fail at once with the matching error and the stderr tail.
4. A job missing from the status output is never assumed COMPLETED (Parsl, psij) nor still running
   (submitit): its sentinel decides; without one, after ``missing_grace_s`` accounting is
   consulted if the scheduler has a separate accounting command, and then it is LOST.
"""

from __future__ import annotations

from dataclasses import dataclass

from clustrix.errors import (
    JobCancelledError,
    JobError,
    JobFailedError,
    JobLostError,
    JobNodeFailError,
    JobOutOfMemoryError,
    JobPreemptedError,
    JobTimeoutError,
)
from clustrix.states import JobState, JobStatus

STDERR_TAIL_CHARS = 4000
STDERR_TAIL_LINES = 40

_ERRORS: dict[JobState, tuple[type[JobError], str]] = {
    JobState.TIMEOUT: (JobTimeoutError, "job exceeded its walltime limit; raise time= or checkpoint"),
    JobState.OUT_OF_MEMORY: (JobOutOfMemoryError, "job exceeded its memory limit; raise memory="),
    JobState.NODE_FAIL: (JobNodeFailError, "a node of the job failed; resubmitting usually works"),
    JobState.CANCELLED: (JobCancelledError, "job was cancelled"),
    JobState.PREEMPTED: (JobPreemptedError, "job was preempted and not requeued"),
    JobState.FAILED: (JobFailedError, "job failed without writing a result"),
    JobState.COMPLETED: (
        JobFailedError,
        "job completed but its result file never appeared; is remote_dir on a filesystem the "
        "compute nodes share?",
    ),
    JobState.LOST: (
        JobLostError,
        "job vanished from the queue and accounting and left no exit-code sentinel",
    ),
}

# States in which the runner may have run to its end, so a missing result may just be NFS lag.
_RUNNER_MAY_HAVE_FINISHED = frozenset({JobState.COMPLETED, JobState.FAILED})


@dataclass(frozen=True)
class GracePolicy:
    """How long to wait for evidence that may lag behind the scheduler.

    ``result_grace_s``: a job is terminal (or its sentinel says 0) but its result file is not
    readable yet — NFS attribute caching commonly hides new files for a few seconds.
    ``missing_grace_s``: a job is absent from the status output (a just-submitted job can be
    missing from ``sacct`` for a moment; a finished one is purged from ``squeue`` after
    MinJobAge) before its sentinel and accounting decide.
    """

    result_grace_s: float = 15.0
    missing_grace_s: float = 30.0


@dataclass(frozen=True)
class Evidence:
    """What is known about one job (or array task) at one poll tick.

    ``status`` is None when the job was absent from the status output. The file contents are
    None when the file does not exist (yet).
    """

    status: JobStatus | None
    result: bytes | None = None
    sentinel: bytes | None = None
    stderr: bytes | None = None
    terminal_for_s: float = 0.0
    missing_for_s: float = 0.0
    accounting_checked: bool = False


@dataclass(frozen=True)
class Wait:
    """Nothing final yet; poll again."""

    reason: str = ""


@dataclass(frozen=True)
class ResultReady:
    """The result file is readable; ``blob`` is its signed content (verified when loaded)."""

    blob: bytes


@dataclass(frozen=True)
class Failed:
    """The job ended without a result; ``error`` is what its future raises."""

    error: JobError


@dataclass(frozen=True)
class NeedAccounting:
    """Missing past the grace period without a sentinel: ask the accounting command once."""


Decision = Wait | ResultReady | Failed | NeedAccounting


def parse_sentinel(blob: bytes | None) -> int | None:
    """The exit code in a sentinel file, or None when absent. Garbage reads as exit code 255."""
    if blob is None:
        return None
    text = blob.decode("ascii", errors="replace").strip()
    try:
        return int(text)
    except ValueError:
        return 255


def stderr_tail(blob: bytes | None) -> str:
    """The last lines of a job's stderr log, decoded leniently, for error messages."""
    if not blob:
        return ""
    text = blob[-STDERR_TAIL_CHARS * 2 :].decode("utf-8", errors="replace")
    lines = text.splitlines()[-STDERR_TAIL_LINES:]
    return "\n".join(lines)[-STDERR_TAIL_CHARS:]


def error_for(
    state: JobState,
    job_id: str,
    *,
    status: JobStatus | None = None,
    exit_code: int | None = None,
    stderr: bytes | None = None,
    detail: str = "",
) -> JobError:
    """The error a job ending in ``state`` without a result raises, carrying its evidence."""
    cls, message = _ERRORS.get(state, (JobFailedError, f"job ended in state {state.value} without a result"))
    if detail:
        message = f"{message} ({detail})"
    if exit_code is None and status is not None:
        exit_code = status.exit_code
    return cls(
        message,
        job_id=job_id,
        state=(status.raw or status.state.value) if status is not None else state.value,
        reason=status.reason if status is not None else "",
        exit_code=exit_code,
        stderr_tail=stderr_tail(stderr),
    )


def decide(job_id: str, ev: Evidence, policy: GracePolicy, *, has_accounting: bool = False) -> Decision:
    """Apply the rules in the module docstring to one job's evidence."""
    if ev.result is not None:
        return ResultReady(ev.result)
    code = parse_sentinel(ev.sentinel)
    status = ev.status
    if status is not None and status.is_terminal:
        return _decide_terminal(job_id, ev, status, code, policy)
    if status is not None:
        return Wait(f"job is {status.state.value}")
    # Missing from the status output.
    if code is not None:
        if code != 0:
            return Failed(error_for(JobState.FAILED, job_id, exit_code=code, stderr=ev.stderr,
                                    detail="the job script's runner exited non-zero"))
        if ev.missing_for_s < policy.result_grace_s:
            return Wait("sentinel says 0; waiting for the result file to become visible")
        return Failed(error_for(JobState.COMPLETED, job_id, exit_code=0, stderr=ev.stderr))
    if ev.missing_for_s < policy.missing_grace_s:
        return Wait("job not in the status output yet/anymore; within grace")
    if has_accounting and not ev.accounting_checked:
        return NeedAccounting()
    return Failed(error_for(JobState.LOST, job_id, stderr=ev.stderr,
                            detail=f"absent from status output for {ev.missing_for_s:.0f}s"))


def _decide_terminal(job_id: str, ev: Evidence, status: JobStatus, code: int | None,
                     policy: GracePolicy) -> Decision:
    state = status.state
    if state in _RUNNER_MAY_HAVE_FINISHED:
        runner_failed = code is not None and code != 0
        if not runner_failed and ev.terminal_for_s < policy.result_grace_s:
            return Wait(f"job is {state.value}; waiting for the result file to become visible")
        exit_code = code if code is not None else status.exit_code
        return Failed(error_for(state, job_id, status=status, exit_code=exit_code, stderr=ev.stderr))
    return Failed(error_for(state, job_id, status=status, exit_code=status.exit_code, stderr=ev.stderr))
