"""The remote backend: jobs on a batch scheduler (over SSH, or on this login node) or a plain host.

``RemoteBackend(profile)`` stages each call into its own job directory
(:mod:`clustrix.backends.remote.staging`), starts it through a *launcher* — :class:`SchedulerLauncher` for
slurm/pbs/torque/sge, :class:`clustrix.backends.remote.plain_ssh.PlainSSHLauncher` for ``ssh`` — records it in the
ledger, and hands back :class:`~clustrix.futures.JobFuture` objects that one
:class:`~clustrix.polling.poller.Poller` per backend resolves. Reattaching to a recorded job after a
restart is :func:`clustrix.api.attach.attach` (re-exported here).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from clustrix.backends.array_plan import ArrayPlan, check_chunk_size, parallel_shares
from clustrix.backends.base import ArrayItem, check_items
from clustrix.backends.environment import EnvironmentManager
from clustrix.backends.ledger import Ledger, LedgerEntry
from clustrix.backends.remote.cancelling import CancellingMixin
from clustrix.backends.remote.launchers import Launcher, SchedulerLauncher
from clustrix.backends.remote.ledger_recorder import LedgerRecorder, function_name
from clustrix.backends.remote.staging import Stager
from clustrix.backends.remote.submission import ItemHandle, Submission, TaskPhase
from clustrix.config.profile import Profile
from clustrix.errors import ClustrixError, PayloadError, TransportError
from clustrix.futures import JobFuture, status_for_exception
from clustrix.payload.binding import JobBinding, new_binding
from clustrix.payload.codec import Call, dump_array, dump_call, load_result
from clustrix.polling.poller import Poller, PollerConfig
from clustrix.polling.probe import ResultProbe
from clustrix.polling.resolution import Failed, ResultReady
from clustrix.polling.watch import Watch, WatchFiles
from clustrix.spec import ArraySpec, JobPaths, JobSpec
from clustrix.states import JobState, JobStatus
from clustrix.transports.base import Transport

log = logging.getLogger(__name__)

LOG_TAIL_BYTES = 64 * 1024
SHUTDOWN_POLLER_WAIT_S = 5.0


class RemoteBackend(CancellingMixin):
    """Backend for ``slurm``/``pbs``/``torque``/``sge`` (over SSH or local) and plain ``ssh``.

    ``transport``, ``ledger`` (False disables it), ``poller_config``, ``sleep`` (between submit
    retries) and ``poll_sleep`` (the poller's wait between ticks) exist for tests and advanced
    use; ``RemoteBackend(profile)`` is the normal construction. Cancelling (``cancel_all``,
    ``cancel_futures``, one task's ``cancel_task``) is :class:`CancellingMixin`'s.
    """

    def __init__(self, profile: Profile, *, transport: Transport | None = None, ledger: Ledger | bool | None = None,
                 poller_config: PollerConfig | None = None, sleep: Callable[[float], None] = time.sleep,
                 poll_sleep: Callable[[float], None] | None = None):
        if not profile.is_remote:
            raise ClustrixError(f"RemoteBackend needs a scheduler or ssh profile, got backend {profile.backend!r}")
        self.profile = profile
        self._owns_transport = transport is None
        if transport is None:
            from clustrix.transports import transport_for

            transport = transport_for(profile)
        self.transport = transport
        self.stager = Stager(transport, profile)
        self.stager.prefetch_key()  # the first submission's key read, overlapped (see staging)
        # The profile's `environment`: made ready (a venv built on the cluster) at the first submission.
        self.environment = EnvironmentManager(transport, profile, lambda: self.stager.remote_dir)
        if profile.scheduler is not None:
            from clustrix import schedulers

            self.launcher: Launcher = SchedulerLauncher(transport, schedulers.get(profile.scheduler), profile,
                                                        sleep=sleep)
        else:
            from clustrix.backends.remote.plain_ssh import PlainSSHLauncher

            self.launcher = PlainSSHLauncher(transport, profile)
        config = poller_config or PollerConfig(interval_s=profile.poll_interval_s,
                                               max_interval_s=profile.poll_max_interval_s,
                                               grace=self.launcher.grace)
        # The fast path: result files are read (pipelined, without listing directories) each
        # tick; the scheduler is asked on a slower schedule (see clustrix.polling.poller).
        self.poller = Poller(self.launcher.source, transport, config,
                             probe=ResultProbe(transport), sleep=poll_sleep,
                             name=f"clustrix-poller-{profile.name}")
        self.ledger = LedgerRecorder(ledger, profile)
        self._lock = threading.Lock()
        self._subs: list[Submission] = []
        self._closed = False

    # -- Backend protocol ----------------------------------------------------------------------

    def submit(self, call: Call, spec: JobSpec) -> JobFuture:
        """Stage and submit one call as one job; the future resolves to its value."""
        self._check_open()
        # Unpicklable arguments raise in dump_call, before any remote work.
        sub = self._start(spec, lambda key, binding: dump_call(call, key, binding=binding), plan=None,
                          function=function_name(call.fn))
        return sub.futures[0]

    def submit_array(self, fn: Callable[..., Any], items: Sequence[ArrayItem], spec: JobSpec,
                     *, chunk_size: int | None = None) -> list[JobFuture]:
        """One array job for all items; one future per item, in order.

        ``chunk_size`` items run in each array task (one after another); None means the
        profile's ``array_chunk_size``, else the automatic rule of :mod:`clustrix.backends.array_plan`.
        More tasks than the site allows in one array (the profile's ``max_array_size``) are
        submitted as several arrays, staged together; the futures still come back in input
        order, and cancelling them cancels every part. A ``max_parallel`` limit is shared out
        between the parts (:func:`~clustrix.backends.array_plan.parallel_shares`).
        """
        self._check_open()
        chunk_size = check_chunk_size(chunk_size)
        checked = check_items(items)
        if not checked:
            return []
        plan = ArrayPlan.for_items(len(checked), chunk_size=chunk_size or self.profile.array_chunk_size)
        parts = plan.split(self.profile.array_size_limit)
        max_parallel = spec.array.max_parallel if spec.array is not None else None
        shares = parallel_shares(max_parallel or self.profile.max_array_parallel, len(parts))
        if len(parts) > 1:
            log.info("%d tasks exceed max_array_size %s: submitting %d arrays", plan.n_tasks,
                     self.profile.array_size_limit, len(parts))
        jobs = []
        for part, share in zip(parts, shares, strict=True):
            def payload(key: bytes, binding: JobBinding, part_plan: ArrayPlan = part.plan,
                        start: int = part.first_item) -> bytes:
                return dump_array(fn, part_plan.chunks(checked[start:start + part_plan.n_items]), key,
                                  binding=binding)

            jobs.append((replace(spec, array=ArraySpec(part.plan.n_tasks, share)), payload, part.plan))
        subs = self._start_many(jobs, function=function_name(fn))
        return [fut for sub in subs for fut in sub.futures]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new submissions; cancel live jobs if asked; wait for the rest if asked."""
        with self._lock:
            self._closed = True
            subs = list(self._subs)
        if cancel_futures:
            self.cancel_all(subs)
        if wait:
            for sub in subs:
                for fut in sub.futures:
                    try:
                        fut.exception()
                    except BaseException:  # noqa: BLE001 - cancelled futures raise here
                        pass
        with self._lock:
            idle = not self._subs
        # When idle, let a poll tick still in flight finish before its connection goes away
        # (bounded: a hung command must not hang shutdown).
        self.poller.stop(wait=idle, timeout_s=SHUTDOWN_POLLER_WAIT_S)
        if idle and self._owns_transport:
            # With jobs still live (wait=False) the poller keeps using the connection; it is
            # released at exit instead.
            self.transport.close()

    def adopt(self, entry: LedgerEntry) -> list[JobFuture]:
        """Futures for a job recorded in the ledger (by this or an earlier process).

        The job's result and sentinel files decide its outcome as for a fresh submission, so a
        job that finished long ago (and left the queue) resolves at the first poll.
        """
        with self._lock:
            for sub in self._subs:
                if sub.job_id == entry.job_id and sub.paths.job_dir == entry.job_dir:
                    return list(sub.futures)
        paths = JobPaths(entry.job_dir, entry.key_file)
        plan = ArrayPlan(entry.n_items, entry.chunk_size) if entry.is_array else None
        keys = list(entry.task_ids) if entry.is_array else [entry.job_id]
        key = self.stager.key()
        sub = Submission.new(entry.job_id, paths, key, self.stager.staged_binding(paths, key), plan, keys,
                             row=entry.row)
        self._register(sub, function=entry.function, record=False)
        return list(sub.futures)

    # -- submission ----------------------------------------------------------------------------

    def _start(self, spec: JobSpec, make_payload: Callable[[bytes, JobBinding], bytes], *,
               plan: ArrayPlan | None, function: str) -> Submission:
        """Sign the payload for a fresh job dir, stage it, submit it, start watching it."""
        return self._start_many([(spec, make_payload, plan)], function=function)[0]

    def _start_many(self, jobs: Sequence[tuple[JobSpec, Callable[[bytes, JobBinding], bytes], ArrayPlan | None]],
                    *, function: str) -> list[Submission]:
        """:meth:`_start` for several jobs: staged in ONE ``put_files``, then submitted in order.

        If a later submission fails, the ones already submitted are cancelled (best effort)
        before the error is raised: the caller has no futures to reach them by.
        """
        prepared_at = time.time()  # the client's share of a timeline starts here (see clustrix.gantt)
        key = self.stager.key()
        staged: list[tuple[JobSpec, JobPaths, JobBinding, ArrayPlan | None]] = []
        files_by_dir: dict[str, dict[str, bytes | str]] = {}
        for spec, make_payload, plan in jobs:
            spec = self._in_environment(spec)
            job_dir = self.stager.new_job_dir()
            binding = new_binding(job_dir)  # what its results must carry (see clustrix.payload.binding)
            paths = JobPaths(job_dir, self.stager.remote_key_path)
            files: dict[str, bytes | str] = dict(self.launcher.render(spec, paths))
            files[paths.payload] = make_payload(key, binding)
            files_by_dir[job_dir] = files
            staged.append((spec, paths, binding, plan))
        self.stager.stage_many(files_by_dir)
        del files_by_dir, files  # the payloads are on the host now; do not hold them while jobs run
        subs: list[Submission] = []
        for spec, paths, binding, plan in staged:
            try:
                job_id = self.launcher.submit(spec, paths)
            except BaseException:
                if subs:
                    try:
                        self.cancel_all(subs)
                    except Exception:  # noqa: BLE001 - the submit error is the one to report
                        log.warning("cancelling the %d arrays already submitted failed", len(subs), exc_info=True)
                raise
            n_tasks = None if plan is None else plan.n_tasks
            sub = Submission.new(job_id, paths, key, binding, plan, self.launcher.task_keys(job_id, n_tasks))
            self._register(sub, function=function, record=True, prepared_at=prepared_at)
            subs.append(sub)
        return subs

    def _in_environment(self, spec: JobSpec) -> JobSpec:
        """``spec`` running the profile's job interpreter; a bad environment fails here, before staging."""
        if self.profile.environment is None:
            return spec
        interpreter = self.environment.interpreter()  # built (once) on the first submission
        self.stager.prep.use_interpreter(interpreter.python, interpreter.setup)  # what the preflight asks
        return interpreter.apply(spec)

    def _register(self, sub: Submission, *, function: str, record: bool, prepared_at: float | None = None) -> None:
        """Create the item futures, record the job in the ledger and start watching its tasks."""
        n_items = 1 if sub.plan is None else sub.plan.n_items
        for item in range(n_items):
            fid = sub.job_id if sub.plan is None else f"{sub.job_id}[{item}]"
            sub.futures.append(JobFuture(fid, ItemHandle(self, sub, item)))
        if record:
            self.ledger.record(sub, function, prepared_at=prepared_at)
        self.launcher.track(sub.job_id, sub.paths, None if sub.plan is None else sub.plan.n_tasks)
        with self._lock:
            self._subs.append(sub)
        watches = []
        for task, record in enumerate(sub.tasks):
            if not record.is_open:
                continue
            key = record.key
            ft = sub.file_task(task)
            watches.append(Watch(
                key=key, query_id=sub.job_id,
                files=WatchFiles(sub.paths.result(ft), sub.paths.sentinel(ft),
                                 self.launcher.log_paths(sub.paths, ft)[1]),
                on_done=lambda decision, s=sub, t=task: self._on_done(s, t, decision),
                on_status=lambda status, s=sub, t=task: self._on_status(s, t, status),
            ))
        self.poller.watch(watches)

    # -- poller callbacks (poller thread) ------------------------------------------------------

    def _on_status(self, sub: Submission, task: int, status: JobStatus) -> None:
        sub.tasks[task].status = status
        if status.state is JobState.RUNNING:
            for item in sub.items_of(task):
                sub.futures[item].mark_running()
        self.ledger.update(sub, {task: status.state.value})

    def _on_done(self, sub: Submission, task: int, decision: ResultReady | Failed) -> None:
        # The ledger is updated before the futures resolve, so whoever wakes on a result sees
        # the final state recorded.
        with self._lock:
            phase = sub.tasks[task].phase
            if phase is TaskPhase.CANCELLING:
                sub.tasks[task].held = decision
                return
            if phase is not TaskPhase.LIVE:
                return  # cancelled (its futures are) or already resolved: nothing left to decide
        items = sub.items_of(task)
        if isinstance(decision, Failed):
            state = status_for_exception(decision.error).state.value
            self._finish_task(sub, task, state, error=str(decision.error).splitlines()[0])
            for item in items:
                sub.futures[item].set_job_error(decision.error)
            return
        try:
            envelopes = load_result(decision.blob, sub.key, expect=sub.binding, task=sub.file_task(task))
            if len(envelopes) != len(items):
                raise PayloadError(f"result of job {sub.task_keys[task]} holds {len(envelopes)} items, "
                                   f"expected {len(items)}")
        except PayloadError as exc:
            self._finish_task(sub, task, "FAILED", error=str(exc))
            for item in items:
                sub.futures[item].set_job_error(exc, JobStatus(JobState.FAILED, raw="BAD RESULT"))
            return
        failure = next((f"{e.exc_type}: {e.exc_message}" for e in envelopes if not e.ok), None)
        self._finish_task(sub, task, "COMPLETED" if failure is None else "FAILED", error=failure)
        for item, env in zip(items, envelopes, strict=True):
            sub.futures[item].set_envelope(env)

    def _finish_task(self, sub: Submission, task: int, state: str, *, error: str | None = None) -> None:
        with self._lock:
            record = sub.tasks[task]
            record.phase, record.final_state = TaskPhase.DONE, state
            self._forget_if_ended(sub)
        self.ledger.update(sub, {task: state}, error=error)

    def _forget_if_ended(self, sub: Submission) -> None:
        """Drop a submission none of whose tasks is open any more (under the lock)."""
        if sub.all_ended and sub in self._subs:
            self._subs.remove(sub)

    # -- helpers -------------------------------------------------------------------------------

    def read_log(self, sub: Submission, task: int, which: str) -> str:
        """The tail of one task's ``"stdout"`` or ``"stderr"`` log ("" when unreadable)."""
        out, err = self.launcher.log_paths(sub.paths, sub.file_task(task))
        path = out if which == "stdout" else err
        try:
            blob = self.stager.fetch([path]).get(path)
        except TransportError as exc:
            log.warning("could not read %s: %s", path, exc)
            return ""
        return "" if blob is None else blob[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("cannot submit after shutdown() of this backend")


__all__ = ["Launcher", "RemoteBackend", "SchedulerLauncher", "Submission"]
