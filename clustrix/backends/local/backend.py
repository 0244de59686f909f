"""Local execution: a process pool on this machine (or threads), and the in-process debug backend.

:class:`LocalBackend` runs every call in its own runner process (a batch job's launch line), through
exactly the payload, HMAC and result path a cluster job uses, in a private 0700 job directory.
A process per call buys what a ``multiprocessing`` pool cannot give: a stuck call can be killed
alone, so time limits (``resources.time_s``) and ``cancel()`` of a running call really stop it (its
process group gets SIGTERM, then SIGKILL after ``kill_grace_s``). At most ``max_workers`` calls run
at once; the rest wait in a FIFO queue and can be cancelled there. Where it can (Linux, no setup
lines, see :mod:`clustrix.backends.local.fork_client`), the process is forked from a warm server that has
the runner and cloudpickle loaded, instead of started from scratch: a few milliseconds per call
instead of tens, with the same isolation and the same kills (``fork_server=False`` turns it off).

Threads are used only when the profile says ``local_mode: threads`` (see
:mod:`clustrix.backends.local.debug` for what threads cannot do). The working directory of a call is the
submitter's; ``profile.python`` is ignored here (the call runs under this interpreter), and of the
resources only ``time_s`` is enforced (cores, memory and GPUs are not reserved on this machine).
``spec.env`` is exported and ``spec.setup`` lines run in ``/bin/sh`` before the runner, as in a
batch script. Calls still running when the interpreter exits are killed and their temporary
files removed (``concurrent.futures`` pools would wait for them instead).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from clustrix.backends.array_plan import check_chunk_size
from clustrix.backends.base import ArrayItem, cancel_each, check_items
from clustrix.backends.local.debug import DebugBackend, capture_thread_output, run_in_this_thread
from clustrix.backends.local.fork_client import ForkedProcess, ForkServer
from clustrix.backends.local.fork_client import supported as fork_server_supported
from clustrix.backends.local.job import LocalJob, describe_exit, log_tail, signal_group
from clustrix.config.profile import Profile
from clustrix.errors import ForkServerError, JobFailedError, JobTimeoutError, PayloadError
from clustrix.futures import JobFuture
from clustrix.payload.binding import JobBinding, new_binding
from clustrix.payload.codec import (
    Call,
    atomic_write,
    dump_array,
    dump_call,
    load_result,
    new_key,
    write_key_file,
)
from clustrix.schedulers.script import RUNNER_LAUNCH
from clustrix.spec import JobSpec
from clustrix.states import JobState

__all__ = ["DebugBackend", "LocalBackend"]

REAP_AFTER_SIGKILL_S = 10.0
"""How long a killed call's process may take to be reaped before the kill is reported anyway."""

# The directory holding the clustrix package (this file is clustrix/backends/local/backend.py),
# put on PYTHONPATH of every call so the runner is importable where clustrix is not installed.
CLUSTRIX_ROOT = str(Path(__file__).resolve().parents[3])
_LIVE: weakref.WeakSet[LocalBackend] = weakref.WeakSet()
log = logging.getLogger(__name__)


class LocalBackend:
    """A pool of worker processes on this machine (threads with ``local_mode: threads``)."""

    def __init__(self, profile: Profile | None = None, *, kill_grace_s: float = 5.0, fork_server: bool = True):
        self.profile = profile or Profile(backend="local")
        self.max_workers = self.profile.max_workers or os.cpu_count() or 1
        self.threads_mode = self.profile.local_mode == "threads"
        if isinstance(kill_grace_s, bool) or not isinstance(kill_grace_s, (int, float)) or kill_grace_s < 0:
            raise ValueError(f"kill_grace_s must be a number of seconds >= 0, got {kill_grace_s!r}")
        self.kill_grace_s = float(kill_grace_s)
        self._base = tempfile.mkdtemp(prefix="clustrix-local-")  # 0700
        self._jobs_dir = os.path.join(self._base, "jobs")
        os.mkdir(self._jobs_dir, 0o700)
        self._key = new_key()
        self._key_file = os.path.join(self._base, "hmac.key")  # outside every job dir
        write_key_file(self._key_file, self._key)
        self._queue: queue.SimpleQueue[LocalJob | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._workers: list[threading.Thread] = []
        self._jobs: set[LocalJob] = set()
        self._dir_users: dict[str, int] = {}
        self._closed = False
        self._fork_server_wanted = bool(fork_server) and not self.threads_mode and fork_server_supported()
        self._fork_server: ForkServer | None = None
        self._retired = 0  # workers that have left after shutdown()
        _LIVE.add(self)

    # ------------------------------------------------------------------ submission

    def submit(self, call: Call, spec: JobSpec) -> JobFuture:
        """Queue one call; it starts when one of the ``max_workers`` slots is free."""
        if not isinstance(call, Call):
            raise TypeError(f"submit needs a clustrix.payload.codec.Call, got {type(call).__name__}")
        job_id, job_dir, binding = self._new_job_dir()
        if not self.threads_mode:
            self._stage(job_dir, lambda sys_path: dump_call(call, self._key, sys_path=sys_path, binding=binding))
        job = LocalJob(self._kill, job_id, job_dir, None, spec, call if self.threads_mode else None, binding)
        self._enqueue([job], job_dir)
        return job.future

    def submit_array(self, fn: Callable[..., Any], items: Sequence[ArrayItem], spec: JobSpec,
                     *, chunk_size: int | None = None) -> list[JobFuture]:
        """Queue one task per item (ids ``local-N_0``, ``local-N_1``...), like a scheduler array.

        ``chunk_size`` is validated and otherwise ignored: on this machine a task per item costs
        no scheduler round trip worth saving.
        """
        check_chunk_size(chunk_size)
        pairs = check_items(items)
        if not pairs:
            return []
        job_id, job_dir, binding = self._new_job_dir()
        chunks = [[p] for p in pairs]
        if not self.threads_mode:
            self._stage(job_dir, lambda sys_path: dump_array(fn, chunks, self._key, sys_path=sys_path, binding=binding))
        jobs = [
            LocalJob(self._kill, f"{job_id}_{i}", job_dir, i, spec, Call(fn, a, kw) if self.threads_mode else None, binding)
            for i, (a, kw) in enumerate(pairs)
        ]
        self._enqueue(jobs, job_dir)
        return [j.future for j in jobs]

    def _new_job_dir(self) -> tuple[str, str, JobBinding]:
        """A fresh job id and private directory, and what the job's results must be bound to."""
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a LocalBackend after shutdown()")
            job_id = f"local-{next(self._ids)}"
        job_dir = os.path.join(self._jobs_dir, job_id)
        os.mkdir(job_dir, 0o700)
        return job_id, job_dir, new_binding(job_dir)

    def _stage(self, job_dir: str, make_blob: Callable[[list[str]], bytes]) -> None:
        # Same machine: give the job this process's import path, so functions defined in test
        # modules or in packages put on sys.path at run time unpickle by reference.
        sys_path = [p for p in sys.path if p and os.path.isdir(p)]
        try:  # pickling errors surface here, in submit(), not later in result()
            # No fsync: the directory is temporary and only this machine reads it (see atomic_write).
            atomic_write(os.path.join(job_dir, "call.pkl"), make_blob(sys_path), durable=False)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise

    def _enqueue(self, jobs: list[LocalJob], job_dir: str) -> None:
        with self._lock:
            self._dir_users[job_dir] = len(jobs)
            self._jobs.update(jobs)
            for job in jobs:
                self._queue.put(job)
            while len(self._workers) < min(self.max_workers, len(self._jobs)):
                worker = threading.Thread(target=self._work, name=f"clustrix-local-{len(self._workers)}",
                                          daemon=True)
                self._workers.append(worker)
                worker.start()

    # ------------------------------------------------------------------ workers

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                self._retire_worker()
                return
            try:
                if self.threads_mode:
                    self._run_thread(job)
                else:
                    self._run_process(job)
            except BaseException as exc:  # noqa: BLE001 - never lose a future to a backend bug
                job.future.set_job_error(JobFailedError(f"clustrix could not run the job: {exc!r}",
                                                        job_id=job.job_id))
            finally:
                self._finished(job)

    def _retire_worker(self) -> None:
        """A worker leaves (shutdown): the last one out stops the fork server."""
        with self._lock:
            self._retired += 1
            server = self._fork_server if self._retired >= len(self._workers) else None
            if server is not None:
                self._fork_server = None
        if server is not None:
            server.close()

    def _start(self, job: LocalJob) -> bool:
        """Mark the job running unless it was cancelled while queued (caller holds job.lock)."""
        if job.cancel_requested or not job.future.mark_running():
            job.state = JobState.CANCELLED
            return False
        job.state = JobState.RUNNING
        return True

    def _run_process(self, job: LocalJob) -> None:
        runner_args = [job.job_dir, "--task", "" if job.task is None else str(job.task), "--key-file",
                       self._key_file, "--no-fsync"]
        env = dict(os.environ)
        env.update(job.spec.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (CLUSTRIX_ROOT, env.get("PYTHONPATH", "")) if p)
        env["CLUSTRIX_JOB_ID"] = job.job_id
        with job.lock:
            if not self._start(job):
                return
            job.proc = self._spawn(job, runner_args, env)
        proc = job.proc
        limit_s = job.spec.resources.time_s
        timed_out = False
        try:
            code = proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            with job.lock:
                timed_out = not job.cancel_requested
            code = self._kill(proc)
        finally:
            if isinstance(proc, ForkedProcess):
                proc.release()
        with job.lock:
            cancelled = job.cancel_requested
            job.final_out = log_tail(job._file("stdout", ".log"))
            job.final_err = log_tail(job._file("stderr", ".log"))
        if cancelled:
            job.state = JobState.CANCELLED
            return  # the future marks itself cancelled (JobFuture.cancel)
        if timed_out:
            job.state = JobState.TIMEOUT
            job.future.set_job_error(JobTimeoutError(
                f"the call ran past its time limit of {limit_s} s and was killed", job_id=job.job_id,
                state="TIMEOUT", exit_code=code, stderr_tail=job.final_err[-2000:]))
            return
        self._collect(job, code)

    def _spawn(self, job: LocalJob, runner_args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes] | ForkedProcess:
        """Start the runner: forked by the warm server when equivalent, else as a subprocess."""
        out_path, err_path, cwd = job._file("stdout", ".log"), job._file("stderr", ".log"), os.getcwd()
        server = self._server_for(env) if not job.spec.setup else None
        if server is not None:
            try:
                return server.spawn(runner_args, env, cwd, out_path, err_path)
            except ForkServerError:
                # It died: this call runs as a subprocess; the next one starts a new server,
                # unless this one never ran a call (it cannot start here: stop trying).
                if not server.started_any:
                    self._fork_server_wanted = False
        argv = [sys.executable, "-c", RUNNER_LAUNCH, *runner_args]
        if job.spec.setup:  # the user's setup lines, then the runner, as in a batch script
            argv = ["/bin/sh", "-c", "\n".join(job.spec.setup) + '\nexec "$@"', "clustrix-setup", *argv]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd,
                                    start_new_session=True)

    def _server_for(self, env: dict[str, str]) -> ForkServer | None:
        """The fork server, started on first use; None where a fork would not be equivalent."""
        if not self._fork_server_wanted:
            return None
        with self._lock:
            server = self._fork_server
            if server is None or not server.alive:
                try:
                    server = self._fork_server = ForkServer(env, os.getcwd())
                except OSError:
                    self._fork_server_wanted = False
                    return None
        # PYTHON*/LD_* variables other than the server's take effect only in a fresh interpreter.
        return server if server.matches(env) else None

    def _collect(self, job: LocalJob, code: int) -> None:
        result_path = job._file("result", ".pkl")
        try:
            with open(result_path, "rb") as fh:
                blob = fh.read()
        except FileNotFoundError:
            job.state = JobState.FAILED
            job.future.set_job_error(JobFailedError(
                "the job's process exited without writing a result", job_id=job.job_id, state="FAILED",
                reason=describe_exit(code), exit_code=code, stderr_tail=job.final_err[-2000:]))
            return
        try:
            envelope = load_result(blob, self._key, expect=job.binding, task=job.task)[0]
        except PayloadError as exc:
            job.state = JobState.FAILED
            job.future.set_job_error(exc)
            return
        job.state = JobState.COMPLETED
        job.future.set_envelope(envelope)

    def _run_thread(self, job: LocalJob) -> None:
        assert job.call is not None
        with job.lock:
            if not self._start(job):
                return
        limit_s = job.spec.resources.time_s
        timer = None
        if limit_s is not None:  # a thread cannot be killed: fail the future, the thread runs on
            def expire() -> None:
                if job.future.set_job_error(JobTimeoutError(
                        f"the call ran past its time limit of {limit_s} s; it runs on in a thread, "
                        "which cannot be killed (use local_mode 'processes' to kill it)",
                        job_id=job.job_id, state="TIMEOUT")):
                    job.state = JobState.TIMEOUT
            timer = threading.Timer(limit_s, expire)
            timer.daemon = True
            timer.start()
        with capture_thread_output() as (out, err):
            job.live_out, job.live_err = out, err
            try:
                env, exc = run_in_this_thread(job.call, out, err)
            finally:
                if timer is not None:
                    timer.cancel()
                job.final_out, job.final_err = "".join(out), "".join(err)
                job.live_out = job.live_err = None
        if job.future.resolve(env, value=env.value, exception=exc):
            job.state = JobState.COMPLETED if exc is None else JobState.FAILED

    def _finished(self, job: LocalJob) -> None:
        with self._lock:
            self._jobs.discard(job)
            self._dir_users[job.job_dir] -= 1
            last = self._dir_users[job.job_dir] == 0
            if last:
                del self._dir_users[job.job_dir]
        if last:
            shutil.rmtree(job.job_dir, ignore_errors=True)

    def _kill(self, proc: subprocess.Popen[bytes] | ForkedProcess) -> int:
        """SIGTERM the job's process group, SIGKILL it after the grace; return the exit code."""
        signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=self.kill_grace_s)
        except subprocess.TimeoutExpired:
            pass
        # stragglers (children that ignore SIGTERM); the group id is not reused while alive
        signal_group(proc, signal.SIGKILL)
        try:
            return proc.wait(timeout=REAP_AFTER_SIGKILL_S)
        except subprocess.TimeoutExpired:
            # Only a process in uninterruptible sleep (a hung NFS read) survives SIGKILL this long;
            # it dies when the kernel lets it. Report the kill rather than wait on it forever.
            log.warning("process %s did not exit %.0f s after SIGKILL; leaving it to the kernel",
                        proc.pid, REAP_AFTER_SIGKILL_S)
            return -signal.SIGKILL

    # ------------------------------------------------------------------ shutdown

    def cancel_futures(self, futures: Iterable[Future[Any]]) -> int:
        """Cancel each future in turn (there is no bulk command to save here)."""
        return cancel_each(futures)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting calls; cancel queued ones if asked; with ``wait``, wait for the rest."""
        with self._lock:
            first = not self._closed
            self._closed = True
            jobs = list(self._jobs)
            workers = list(self._workers)
        if cancel_futures:
            for job in jobs:
                with job.lock:
                    queued = job.state == JobState.PENDING
                if queued:
                    job.future.cancel()
        if first:
            for _ in workers:
                self._queue.put(None)
        if wait:
            for worker in workers:
                worker.join()
            shutil.rmtree(self._base, ignore_errors=True)

    def _terminate(self) -> None:
        """At interpreter exit: cancel everything, kill what runs, remove the temporary files."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs)
        for job in jobs:
            job.future.cancel()
        with self._lock:
            server, self._fork_server = self._fork_server, None
        if server is not None:
            server.close()
        shutil.rmtree(self._base, ignore_errors=True)


@atexit.register
def _terminate_all() -> None:
    for backend in list(_LIVE):
        backend._terminate()
