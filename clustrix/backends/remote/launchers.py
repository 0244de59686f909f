"""Launchers: how jobs start and stop on one kind of target, for :class:`clustrix.backends.remote.backend.RemoteBackend`.

:class:`SchedulerLauncher` drives a pure scheduler module (slurm/pbs/torque/sge) through a
transport; :class:`clustrix.backends.remote.plain_ssh.PlainSSHLauncher` starts the runner on a host without one.
Both retry transient command failures through :func:`run_with_retry`.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from clustrix.backends.remote.tagged_submit import SUBMIT_ATTEMPTS, SUBMIT_BACKOFF_S, submit_tagged
from clustrix.config.profile import Profile
from clustrix.errors import CommandError, SubmissionError, TransportError
from clustrix.polling.resolution import GracePolicy
from clustrix.polling.scheduler_source import SchedulerStatusSource, is_transient, split_ids
from clustrix.polling.watch import StatusSource
from clustrix.schedulers.contract import SchedulerModule
from clustrix.spec import ArraySpec, JobPaths, JobSpec
from clustrix.transports.base import Transport

log = logging.getLogger(__name__)



def job_tag(paths: JobPaths) -> str:
    """The tag a submission carries: its job directory's name (unique per submission)."""
    return posixpath.basename(paths.job_dir.rstrip("/"))


class Launcher(Protocol):
    """How jobs start and stop on one kind of target; the backend does everything else."""

    source: StatusSource
    grace: GracePolicy

    def render(self, spec: JobSpec, paths: JobPaths) -> dict[str, str]:
        """The files to stage besides the payload (path -> text), at least ``paths.script``."""
        ...

    def submit(self, spec: JobSpec, paths: JobPaths) -> str:
        """Start the staged job; return its job id. Raises SubmissionError."""
        ...

    def task_keys(self, job_id: str, n_tasks: int | None) -> list[str]:
        """Status keys: ``[job_id]`` for a single job, one per task for an array."""
        ...

    def track(self, job_id: str, paths: JobPaths, n_tasks: int | None) -> None:
        """Remember a job the source must report on (plain ssh needs its directory)."""
        ...

    def cancel(self, job_ids: Sequence[str]) -> None:
        """Cancel jobs or tasks (ids as ``submit``/``task_keys`` return them)."""
        ...

    def log_paths(self, paths: JobPaths, task: int | None) -> tuple[str, str]:
        """Where the job's (or task's) stdout and stderr logs are written."""
        ...


class SchedulerLauncher:
    """Launcher for a pure scheduler module run through a transport."""

    def __init__(self, transport: Transport, module: SchedulerModule, profile: Profile,
                 *, sleep: Callable[[float], None] = time.sleep):
        self.transport = transport
        self.module = module
        self.host = profile.host
        self.timeout_s = profile.command_timeout_s
        self._sleep = sleep
        self.source = SchedulerStatusSource(transport, module, timeout_s=self.timeout_s, host=self.host)
        self.grace = GracePolicy()

    def render(self, spec: JobSpec, paths: JobPaths) -> dict[str, str]:
        return {paths.script: self.module.render_script(spec, paths)}

    def submit(self, spec: JobSpec, paths: JobPaths) -> str:
        tagged = self.module.TAGGED_SUBMIT
        if tagged is not None:  # retried without twins: see clustrix.backends.remote.tagged_submit
            return submit_tagged(self.transport, tagged, paths.script, job_tag(paths), self.module.parse_submit,
                                 timeout_s=self.timeout_s, sleep=self._sleep, host=self.host)
        argv = self.module.submit_argv(paths.script)
        return self.module.parse_submit(run_with_retry(self.transport, argv, self.timeout_s, self._sleep,
                                                       host=self.host, error=SubmissionError))

    def task_keys(self, job_id: str, n_tasks: int | None) -> list[str]:
        if n_tasks is None:
            return [job_id]
        return list(self.module.task_ids(job_id, ArraySpec(n_tasks)))

    def track(self, job_id: str, paths: JobPaths, n_tasks: int | None) -> None:
        return None

    def log_paths(self, paths: JobPaths, task: int | None) -> tuple[str, str]:
        # SGE numbers its log files by SGE task id (clustrix task + 1); the module knows.
        return self.module.log_paths(paths, task)

    def cancel(self, job_ids: Sequence[str]) -> None:
        # A few hundred ids per command, as for status (see scheduler_source.split_ids).
        for group in split_ids(list(job_ids)):
            argv = self.module.cancel_argv(group)
            run_with_retry(self.transport, argv, self.timeout_s, self._sleep, host=self.host,
                           error=CommandError, benign=self.module.is_unknown_job_error)


def run_with_retry(transport: Transport, argv: list[str], timeout_s: float, sleep: Callable[[float], None],
                   *, host: str | None, error: type[CommandError],
                   benign: Callable[[str], bool] | None = None) -> str:
    """Run ``argv``; retry transient failures with backoff; return stdout or raise ``error``.

    For commands that are safe to repeat (cancel), and for submissions to schedulers that keep
    no tag (``TAGGED_SUBMIT is None``: PBS, Torque, SGE): there, retrying after an ambiguous
    failure ("Socket timed out", a dropped connection) can submit the job twice if the first
    request reached the controller. We retry anyway: the alternative fails the user's call on
    every controller hiccup. A duplicate is contained — it runs the same signed payload in the
    same job directory and writes the same result atomically — and the ledger keeps the job dir
    so a stray twin can be found. SLURM submissions never take this path
    (:mod:`clustrix.backends.remote.tagged_submit`). Only the transient messages of
    :data:`clustrix.polling.scheduler_source.TRANSIENT_MARKERS` and transport errors are
    retried, at most :data:`SUBMIT_ATTEMPTS` times.
    """
    for attempt in range(SUBMIT_ATTEMPTS):
        last = attempt == SUBMIT_ATTEMPTS - 1
        try:
            done = transport.run(argv, timeout_s=timeout_s)
        except TransportError:
            if last:
                raise
            log.warning("%s failed to run (attempt %d); retrying", argv[0], attempt + 1, exc_info=True)
            sleep(SUBMIT_BACKOFF_S[min(attempt, len(SUBMIT_BACKOFF_S) - 1)])
            continue
        # Grid Engine's qdel says "denied: job ... does not exist" on stdout, not stderr.
        if done.returncode == 0 or (benign is not None and (benign(done.stderr) or benign(done.stdout))):
            return done.stdout
        if last or not is_transient(done.stderr):
            raise error(argv, done.returncode, done.stdout, done.stderr, host=host)
        log.warning("%s failed transiently (attempt %d): %s; retrying", argv[0], attempt + 1,
                    done.stderr.strip())
        sleep(SUBMIT_BACKOFF_S[min(attempt, len(SUBMIT_BACKOFF_S) - 1)])
    raise AssertionError("unreachable")
