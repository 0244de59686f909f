"""Cancelling a remote backend's jobs: one command for many tasks, and what a failed cancel undoes.

:class:`CancellingMixin` is the cancel half of :class:`~clustrix.backends.remote.backend.RemoteBackend`,
kept apart because its rules are their own: a task being cancelled is ``CANCELLING`` and holds back
any decision the poller reaches meanwhile (see :class:`~clustrix.backends.remote.submission.TaskPhase`);
a successful cancel marks the tasks cancelled, forgets them in the poller and records them in the
ledger; a failed one makes them ``LIVE`` again and delivers what was held, so the jobs resolve as if
nothing had happened. A submission all of whose open tasks go is cancelled by its job id (one id
for a whole array), otherwise task by task.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from clustrix.backends.remote.submission import ItemHandle, Submission, TaskPhase
from clustrix.errors import CommandError, TransportError
from clustrix.futures import JobFuture
from clustrix.polling.resolution import Failed, ResultReady

if TYPE_CHECKING:
    from clustrix.backends.remote.launchers import Launcher
    from clustrix.backends.remote.ledger_recorder import LedgerRecorder
    from clustrix.polling.poller import Poller

log = logging.getLogger(__name__)


class CancellingMixin:
    """Cancel methods of the remote backend (which provides the attributes declared here)."""

    _lock: threading.Lock
    _subs: list[Submission]
    launcher: Launcher
    poller: Poller
    ledger: LedgerRecorder

    if TYPE_CHECKING:  # the backend's own, used here
        def _on_done(self, sub: Submission, task: int, decision: ResultReady | Failed) -> None: ...

        def _forget_if_ended(self, sub: Submission) -> None: ...

    def cancel_all(self, subs: Sequence[Submission] | None = None) -> None:
        """Cancel every unfinished job of this backend (or of ``subs``) with one cancel command.

        Raises the cancel command's error (the jobs then resolve as if nothing had happened).
        """
        with self._lock:
            subs = list(self._subs) if subs is None else list(subs)
            targets = {s: s.open_tasks() for s in subs}
        self._cancel_tasks(targets, strict=True)

    def cancel_futures(self, futures: Iterable[Future[Any]]) -> int:
        """Cancel many futures with ONE cancel command, instead of one per ``future.cancel()``.

        Futures of this backend are grouped by submission: a submission all of whose unfinished
        tasks go is cancelled by its job id (one id for a whole array), otherwise by the ids of
        the tasks. Other futures are cancelled one by one. A failing cancel command is logged and
        leaves the jobs to resolve normally, as ``future.cancel()`` returning False would. Returns
        how many of ``futures`` are cancelled afterwards. Used by the ``map`` clean-ups.
        """
        futs = list(futures)
        targets: dict[Submission, set[int]] = {}
        for fut in futs:
            handle = fut.handle if isinstance(fut, JobFuture) else None
            if isinstance(handle, ItemHandle) and handle.owner is self:
                if not fut.done():
                    targets.setdefault(handle.sub, set()).add(handle.task)
            elif not fut.done():
                fut.cancel()
        self._cancel_tasks(targets, strict=False)
        return sum(1 for f in futs if f.cancelled())

    def _cancel_tasks(self, targets: dict[Submission, set[int]], *, strict: bool) -> None:
        """Cancel ``targets`` (submission -> task indices) with one cancel command.

        Tasks being cancelled hold back decisions the poller reaches meanwhile (see
        :attr:`TaskPhase.CANCELLING`); on failure those are released and, when ``strict``,
        the error is raised.
        """
        ids: list[str] = []
        chosen: list[tuple[Submission, list[int]]] = []
        with self._lock:
            for sub, wanted in targets.items():
                live = {t for t in wanted if sub.tasks[t].phase is TaskPhase.LIVE}
                if not live:
                    continue
                tasks = sorted(live)
                for t in tasks:
                    sub.tasks[t].phase = TaskPhase.CANCELLING
                # Every open task is now being cancelled: one id cancels the whole array.
                whole = sub.plan is None or all(r.phase is not TaskPhase.LIVE for r in sub.tasks)
                ids.extend([sub.job_id] if whole else [sub.tasks[t].key for t in tasks])
                chosen.append((sub, tasks))
        if not ids:
            return
        try:
            self.launcher.cancel(ids)
        except BaseException:
            held = []
            with self._lock:
                for sub, tasks in chosen:
                    held += [(sub, t, d) for t in tasks if (d := self._release(sub, t)) is not None]
            for sub, t, decision in held:
                self._on_done(sub, t, decision)
            if strict or not isinstance(sys.exc_info()[1], (CommandError, TransportError)):
                raise
            log.warning("cancelling %s failed", " ".join(ids), exc_info=True)
            return
        for sub, tasks in chosen:
            self._mark_cancelled(sub, tasks)

    def cancel_task(self, sub: Submission, task: int) -> bool:
        """Cancel one task (``future.cancel()`` of one of its items); True once it is cancelled."""
        record = sub.tasks[task]
        with self._lock:
            if record.phase is TaskPhase.CANCELLED:
                return True
            if record.phase is not TaskPhase.LIVE:
                return False
            record.phase = TaskPhase.CANCELLING
        try:
            self.launcher.cancel([sub.job_id if sub.plan is None else record.key])
        except (CommandError, TransportError):
            log.warning("cancelling job %s failed", record.key, exc_info=True)
            with self._lock:
                held = self._release(sub, task)
            if held is not None:
                self._on_done(sub, task, held)
            return False
        self._mark_cancelled(sub, [task])
        return True

    @staticmethod
    def _release(sub: Submission, task: int) -> ResultReady | Failed | None:
        """A cancel failed: the task is LIVE again; returns the decision held meanwhile (under the lock)."""
        record = sub.tasks[task]
        record.phase = TaskPhase.LIVE
        held, record.held = record.held, None
        return held

    def _mark_cancelled(self, sub: Submission, tasks: Iterable[int]) -> None:
        """Tasks whose cancel command succeeded: forget them, record them, cancel their futures."""
        newly: list[int] = []
        with self._lock:
            for task in tasks:
                record = sub.tasks[task]
                record.held = None
                if record.is_open:
                    record.phase, record.final_state = TaskPhase.CANCELLED, "CANCELLED"
                    newly.append(task)
            self._forget_if_ended(sub)
        if not newly:
            return
        self.poller.forget([sub.tasks[t].key for t in newly])
        self.ledger.update(sub, dict.fromkeys(newly, "CANCELLED"))
        for task in newly:
            for item in sub.items_of(task):
                sub.futures[item].cancel()  # the handle answers True at once: the task is cancelled
