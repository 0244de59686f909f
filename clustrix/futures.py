"""Job futures: ``concurrent.futures.Future`` objects that also know their job.

A :class:`JobFuture` is a real ``Future`` (``as_completed``, ``wait``, callbacks all work) plus
``job_id``, ``status``, ``stdout()``/``stderr()`` and a ``cancel()`` that reaches the job. Backends
supply a :class:`JobHandle` (how to cancel the job, read its state and its live output) and
resolve the future with :meth:`JobFuture.set_envelope` (a job that produced a result) or
:meth:`JobFuture.set_job_error` (a job that ended without one), or plain ``set_result`` /
``set_exception``.

Cancellation: unlike a plain ``Future``, a *running* job can be cancelled. ``cancel()`` asks the
handle (kill the process, ``scancel``...); if the handle accepts, the future moves straight to
the cancelled state and waiters are notified, so ``fut.cancelled()`` is True, ``fut.done()`` is
True and ``fut.result()`` raises :class:`~clustrix.errors.JobCancelledError`, which is a
``concurrent.futures.CancelledError``. ``cancel()`` returns False when the job already finished or
the handle could not cancel it (e.g. a running thread).
"""

from __future__ import annotations

import concurrent.futures
from concurrent.futures._base import CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED, PENDING, RUNNING
from typing import Any, Protocol, runtime_checkable

from clustrix.errors import (
    JobCancelledError,
    JobError,
    JobExitError,
    JobFailedError,
    JobLostError,
    JobNodeFailError,
    JobOutOfMemoryError,
    JobPreemptedError,
    JobTimeoutError,
)
from clustrix.payload.result import ResultEnvelope
from clustrix.states import JobState, JobStatus

_ERROR_STATES: tuple[tuple[type[JobError], JobState], ...] = (
    (JobCancelledError, JobState.CANCELLED),
    (JobTimeoutError, JobState.TIMEOUT),
    (JobOutOfMemoryError, JobState.OUT_OF_MEMORY),
    (JobNodeFailError, JobState.NODE_FAIL),
    (JobPreemptedError, JobState.PREEMPTED),
    (JobLostError, JobState.LOST),
    (JobFailedError, JobState.FAILED),
)


@runtime_checkable
class JobHandle(Protocol):
    """What a backend lets a future do to its job. Every method must be thread-safe and quick."""

    def cancel(self) -> bool:
        """Cancel (dequeue or kill) the job; True if it will not produce a result any more.

        After returning True the backend must not resolve the future itself.
        """
        ...

    def status(self) -> JobStatus:
        """The job's current state (only asked while the future is not done)."""
        ...

    def stdout(self) -> str:
        """Output so far (e.g. a tail of the live log); only asked while no envelope is set."""
        ...

    def stderr(self) -> str:
        """Error output so far; only asked while no envelope is set."""
        ...


def status_for_exception(exc: BaseException | None) -> JobStatus:
    """The final status implied by how a job ended."""
    if exc is None:
        return JobStatus(JobState.COMPLETED)
    for cls, state in _ERROR_STATES:
        if isinstance(exc, cls):
            return JobStatus(state, raw=exc.state or "", reason=exc.reason, exit_code=exc.exit_code)
    if isinstance(exc, JobError):
        return JobStatus(JobState.FAILED, raw=exc.state or "", exit_code=exc.exit_code)
    # The function raised: the job itself ran to the end, but its outcome is a failure.
    return JobStatus(JobState.FAILED, raw="EXCEPTION", reason=type(exc).__name__, exit_code=0)


class JobFuture(concurrent.futures.Future):
    """A future for one job (or one array task/item), with the job's id, state and output."""

    def __init__(self, job_id: str, handle: JobHandle | None = None):
        super().__init__()
        self.job_id = job_id
        self._handle = handle
        self._envelope: ResultEnvelope | None = None
        self._final_status: JobStatus | None = None

    def __repr__(self) -> str:
        with self._condition:
            state = self._state
        return f"<JobFuture {self.job_id} {state.lower()}>"

    # ------------------------------------------------------------------ information

    @property
    def handle(self) -> JobHandle | None:
        return self._handle

    @property
    def envelope(self) -> ResultEnvelope | None:
        """The job's result envelope (host, pid, timings, output) once it produced one."""
        return self._envelope

    @property
    def status(self) -> JobStatus:
        """The job's state: final once done, otherwise asked of the backend's handle."""
        with self._condition:
            state = self._state
            final = self._final_status
        if state in (CANCELLED, CANCELLED_AND_NOTIFIED):
            return JobStatus(JobState.CANCELLED, raw="cancelled by client")
        if state == FINISHED:
            return final if final is not None else status_for_exception(self._exception)
        if self._handle is not None:
            return self._handle.status()
        return JobStatus(JobState.RUNNING if state == RUNNING else JobState.PENDING)

    def stdout(self) -> str:
        """What the call printed: from the result once done, else the live output so far."""
        if self._envelope is not None:
            return self._envelope.stdout
        return self._handle.stdout() if self._handle is not None else ""

    def stderr(self) -> str:
        """What the call wrote to stderr: from the result once done, else the live output."""
        if self._envelope is not None:
            return self._envelope.stderr
        return self._handle.stderr() if self._handle is not None else ""

    # ------------------------------------------------------------------ waiting

    def result(self, timeout: float | None = None) -> Any:
        """The call's return value; re-raises the remote exception; ``TimeoutError`` on timeout."""
        try:
            return super().result(timeout)
        except concurrent.futures.CancelledError as exc:
            if isinstance(exc, JobCancelledError):
                raise
            raise self._cancelled_error() from None

    def exception(self, timeout: float | None = None) -> BaseException | None:
        try:
            return super().exception(timeout)
        except concurrent.futures.CancelledError as exc:
            if isinstance(exc, JobCancelledError):
                raise
            raise self._cancelled_error() from None

    def _cancelled_error(self) -> JobCancelledError:
        return JobCancelledError("the job was cancelled by this client", job_id=self.job_id,
                                 state=JobState.CANCELLED.value)

    # ------------------------------------------------------------------ cancelling

    def cancel(self) -> bool:
        """Cancel the job, queued or running; True if it is (now) cancelled. See module doc."""
        with self._condition:
            if self._state in (CANCELLED, CANCELLED_AND_NOTIFIED):
                return True
            if self._state == FINISHED:
                return False
        # Ask outside the lock: cancelling may run a command (scancel) or wait for a kill.
        if self._handle is not None and not self._handle.cancel():
            return False
        with self._condition:
            if self._state == FINISHED:  # completed while we were asking
                return False
            if self._state in (CANCELLED, CANCELLED_AND_NOTIFIED):
                return True
            self._state = CANCELLED_AND_NOTIFIED
            for waiter in self._waiters:  # what set_running_or_notify_cancel does for executors
                waiter.add_cancelled(self)
            self._condition.notify_all()
        self._invoke_callbacks()
        return True

    # ------------------------------------------------------------------ for backends

    def mark_running(self) -> bool:
        """Move PENDING -> RUNNING (so ``running()`` is True); False if cancelled or finished."""
        with self._condition:
            if self._state == PENDING:
                self._state = RUNNING
                return True
            return self._state == RUNNING

    def set_envelope(self, envelope: ResultEnvelope) -> bool:
        """Resolve with a job's result envelope: its value, or its exception re-raised with type.

        Returns False (and does nothing) if the future is already done or cancelled.
        """
        if not envelope.ok:
            exc = envelope.exception()
            if exc is None:  # defensive: a not-ok envelope always rebuilds an exception
                exc = JobFailedError("the job reported a failure without an exception", job_id=self.job_id)
            if isinstance(exc, JobExitError) and exc.job_id is None and isinstance(exc.__cause__, SystemExit):
                exc = JobExitError.from_system_exit(exc.__cause__, job_id=self.job_id, stdout=exc.stdout,
                                                    stderr=exc.stderr, remote_traceback=exc.remote_traceback)
            return self.resolve(envelope, exception=exc)
        return self.resolve(envelope, value=envelope.value)

    def set_job_error(self, exc: BaseException, status: JobStatus | None = None) -> bool:
        """Resolve with an error for a job that ended without a result; False if already done."""
        return self.resolve(None, exception=exc, status=status)

    def resolve(
        self, envelope: ResultEnvelope | None, *, value: Any = None,
        exception: BaseException | None = None, status: JobStatus | None = None,
    ) -> bool:
        """Resolve with ``value`` or ``exception`` (the object itself, e.g. in-process backends).

        ``envelope`` (optional) supplies ``stdout()``/``stderr()`` and timings; ``status``
        defaults to the one implied by ``exception``. False if the future was already done.
        """
        if isinstance(exception, SystemExit):
            # In-process backends hand over the object itself; raised from result() it would
            # end the caller's process (see JobExitError).
            exception = JobExitError.from_system_exit(
                exception, job_id=self.job_id, stdout="" if envelope is None else envelope.stdout,
                stderr="" if envelope is None else envelope.stderr)
        if status is None:
            status = status_for_exception(exception)
        with self._condition:
            if self._state in (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED):
                return False
            self._envelope = envelope
            self._final_status = status
        # Resolve outside the lock: Future runs done-callbacks inside set_result/set_exception.
        try:
            if exception is not None:
                self.set_exception(exception)
            else:
                self.set_result(value)
        except concurrent.futures.InvalidStateError:  # cancelled in the meantime
            return False
        return True
