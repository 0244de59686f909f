"""Status from a batch scheduler's commands, run through a transport (the poller's StatusSource).

Knows three scheduler quirks the pure modules describe but cannot act on:

- accounting disabled (``sacct``: "Slurm accounting storage is disabled"): switch to the module's
  fallback (``squeue``) for the rest of the session, in the same tick;
- a status command that exits non-zero only because some ids are unknown (``squeue -j`` with one
  purged id, PBS ``qstat: Unknown Job Id``): its stdout still answers for the others, and the
  unknown ids are simply missing (the poller's missing-job rules take over) — Parsl and psij
  instead discarded the whole poll, forever (Parsl #1588, psij error threshold);
- transient errors ("Socket timed out", "Unable to contact slurm controller", PBS/SGE
  connection errors) are reported as transient, so the poller retries them longer.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence
from typing import Protocol

from clustrix.errors import CommandError, SchedulerOutputError, StatusQueryError, TransportError
from clustrix.schedulers.contract import SchedulerModule
from clustrix.states import JobStatus

log = logging.getLogger(__name__)

TRANSIENT_MARKERS = (
    "socket timed out",
    "unable to contact slurm controller",
    "slurm_receive_msg",
    "zero bytes were transmitted or received",
    "communication connection failure",
    "transport endpoint is not connected",
    "connection refused",
    "connection reset",
    "resource temporarily unavailable",
    "temporarily unavailable",
    "try again",
    "try later",
    "timed out",
    "cannot connect to server",  # PBS / Torque
    "pbs_iff",
    "unable to contact qmaster",  # SGE
    "commlib error",
    "failed receiving gdi request",
    "sge_qmaster is down",
)


def is_transient(text: str) -> bool:
    """True when a scheduler command's stderr looks like a passing controller/network problem."""
    lower = text.lower()
    return any(marker in lower for marker in TRANSIENT_MARKERS)


class CommandRunner(Protocol):
    def run(self, argv: Sequence[str], *, stdin: bytes | str | None = None,
            timeout_s: float | None = None, retry_safe: bool = False): ...


class SchedulerStatusSource:
    """``StatusSource`` for a pure scheduler module (see clustrix.schedulers)."""

    def __init__(self, transport: CommandRunner, module: SchedulerModule, *, timeout_s: float = 60.0,
                 host: str | None = None):
        self.transport = transport
        self.module = module
        self.timeout_s = timeout_s
        self.host = host
        self.use_fallback = False
        self.has_accounting = module.ACCOUNTING is not None

    def query(self, ids: Sequence[str]) -> dict[str, JobStatus]:
        m = self.module
        if not self.use_fallback:
            argv = m.status_argv(ids)
            done = self._run(argv)
            if done.returncode == 0 or self._only_unknown_ids(done.stderr):
                return self._parse(m.parse_status, done.stdout, argv)
            fallback = m.FALLBACK_STATUS
            if fallback is None or not fallback.primary_unavailable(done.stderr):
                raise self._failure(argv, done)
            log.warning("%s: accounting is unavailable (%s); using %s for the rest of this session",
                        self.host or "localhost", done.stderr.strip(), fallback.argv(ids)[0])
            self.use_fallback = True
        fallback = m.FALLBACK_STATUS
        assert fallback is not None  # use_fallback is only ever set when there is one
        argv = fallback.argv(ids)
        done = self._run(argv)
        if done.returncode != 0 and not self._only_unknown_ids(done.stderr):
            raise self._failure(argv, done)
        return self._parse(fallback.parse, done.stdout, argv)

    def accounting(self, ids: Sequence[str]) -> dict[str, JobStatus]:
        # accounting_argv takes one job (SGE ``qacct -j N``); several are chained in one shell
        # command so the whole lookup stays one round trip.
        # Array tasks share one lookup (every SGE task 50.i asks ``qacct -j 50``): dedupe.
        accounting = self.module.ACCOUNTING
        if accounting is None:
            raise TypeError(f"{self.module.NAME} keeps no per-job accounting (check has_accounting)")
        argvs = [list(a) for a in dict.fromkeys(tuple(accounting.argv(i)) for i in ids)]
        argv = argvs[0] if len(argvs) == 1 else ["/bin/sh", "-c", "; ".join(shlex.join(a) for a in argvs)]
        done = self._run(argv)
        if done.returncode != 0 and not self._only_unknown_ids(done.stderr):
            raise self._failure(argv, done)
        return self._parse(accounting.parse, done.stdout, argv)

    def _run(self, argv: list[str]):
        try:
            # Status queries only read: safe to re-run after a dropped connection.
            return self.transport.run(argv, timeout_s=self.timeout_s, retry_safe=True)
        except TransportError as exc:
            raise StatusQueryError(exc, transient=True) from exc

    def _only_unknown_ids(self, stderr: str) -> bool:
        if not stderr.strip():
            return False
        return self.module.is_unknown_job_error(stderr) and not is_transient(stderr)

    def _failure(self, argv: list[str], done) -> StatusQueryError:
        err = CommandError(argv, done.returncode, done.stdout, done.stderr, host=self.host)
        return StatusQueryError(err, transient=is_transient(done.stderr))

    def _parse(self, parse, stdout: str, argv: list[str]) -> dict[str, JobStatus]:
        try:
            return parse(stdout)
        except SchedulerOutputError as exc:
            # Unparseable output is not transient: it means a format we do not understand.
            err = CommandError(argv, 0, stdout, f"unparseable output: {exc}", host=self.host)
            raise StatusQueryError(err, transient=False) from exc
