"""Status from a batch scheduler's commands, run through a transport (the poller's StatusSource).

Knows three scheduler quirks the pure modules describe but cannot act on:

- accounting disabled (``sacct``: "Slurm accounting storage is disabled"): switch to the module's
  fallback (``squeue``) for the rest of the session, in the same tick;
- a status command that exits non-zero only because some ids are unknown (``squeue -j`` with one
  purged id, PBS ``qstat: Unknown Job Id``): its stdout still answers for the others, and the
  unknown ids are simply missing (the poller's missing-job rules take over) — Parsl and psij
  instead discarded the whole poll, forever (Parsl #1588, psij error threshold);
- transient errors ("Socket timed out", "Unable to contact slurm controller", PBS/SGE
  connection errors) are reported as transient, so the poller retries them longer;
- a long id list breaks real tools (``sacct -j`` with thousands of ids): the ids of one status
  round are split into commands of at most :data:`MAX_IDS_PER_COMMAND` ids and
  :data:`MAX_ID_CHARS` characters (:func:`split_ids`), which run side by side over the one
  connection (at most :data:`MAX_PARALLEL_COMMANDS` at a time) and are merged into one answer:
  still one status *round* per tick. Commands that come out identical (Grid Engine's ``qstat``
  takes no ids) run once.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

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


MAX_IDS_PER_COMMAND = 200
"""Most job ids one status (or cancel) command carries."""
MAX_ID_CHARS = 4000
"""Most characters of ids one command carries (PBS ids with a server name are long)."""
MAX_PARALLEL_COMMANDS = 4
"""Commands of one status round running at once over the connection."""
ACCOUNTING_CHAIN = 50
"""Per-job accounting lookups (``qacct -j N``) chained into one shell command."""


def split_ids(ids: Sequence[str], *, max_ids: int | None = None, max_chars: int | None = None) -> list[list[str]]:
    """``ids`` in order, cut into groups of at most ``max_ids`` ids and ``max_chars`` characters
    (an id longer than ``max_chars`` goes alone); None: :data:`MAX_IDS_PER_COMMAND`,
    :data:`MAX_ID_CHARS`, read at call time."""
    max_ids = MAX_IDS_PER_COMMAND if max_ids is None else max_ids
    max_chars = MAX_ID_CHARS if max_chars is None else max_chars
    groups: list[list[str]] = []
    current: list[str] = []
    chars = 0
    for job_id in ids:
        if current and (len(current) >= max_ids or chars + len(job_id) + 1 > max_chars):
            groups.append(current)
            current, chars = [], 0
        current.append(job_id)
        chars += len(job_id) + 1
    if current:
        groups.append(current)
    return groups


def unique_argvs(argvs: Sequence[list[str]]) -> list[list[str]]:
    """``argvs`` without repeats, in order (a command that ignores ids runs once per round)."""
    return [list(a) for a in dict.fromkeys(tuple(a) for a in argvs)]


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
        groups = split_ids(list(ids))
        if not groups:
            return {}
        if not self.use_fallback:
            argvs = unique_argvs([m.status_argv(g) for g in groups])
            dones = self._run_all(argvs)
            bad = [(argv, done) for argv, done in zip(argvs, dones, strict=True)
                   if done.returncode != 0 and not self._only_unknown_ids(done.stderr)]
            if not bad:
                return self._merge(m.parse_status, argvs, dones)
            argv, done = bad[0]
            fallback = m.FALLBACK_STATUS
            if fallback is None or not fallback.primary_unavailable(done.stderr):
                raise self._failure(argv, done)
            log.warning("%s: accounting is unavailable (%s); using %s for the rest of this session",
                        self.host or "localhost", done.stderr.strip(), fallback.argv(groups[0])[0])
            self.use_fallback = True
        fallback = m.FALLBACK_STATUS
        assert fallback is not None  # use_fallback is only ever set when there is one
        argvs = unique_argvs([fallback.argv(g) for g in groups])
        dones = self._run_all(argvs)
        for argv, done in zip(argvs, dones, strict=True):
            if done.returncode != 0 and not self._only_unknown_ids(done.stderr):
                raise self._failure(argv, done)
        return self._merge(fallback.parse, argvs, dones)

    def accounting(self, ids: Sequence[str]) -> dict[str, JobStatus]:
        # accounting_argv takes one job (SGE ``qacct -j N``); up to ACCOUNTING_CHAIN are chained
        # in one shell command, so a lookup stays one round trip per chain.
        # Array tasks share one lookup (every SGE task 50.i asks ``qacct -j 50``): dedupe.
        accounting = self.module.ACCOUNTING
        if accounting is None:
            raise TypeError(f"{self.module.NAME} keeps no per-job accounting (check has_accounting)")
        lookups = unique_argvs([accounting.argv(i) for i in ids])
        if not lookups:
            return {}
        argvs = [chain[0] if len(chain) == 1 else ["/bin/sh", "-c", "; ".join(shlex.join(a) for a in chain)]
                 for chain in (lookups[i:i + ACCOUNTING_CHAIN] for i in range(0, len(lookups), ACCOUNTING_CHAIN))]
        dones = self._run_all(argvs)
        for argv, done in zip(argvs, dones, strict=True):
            if done.returncode != 0 and not self._only_unknown_ids(done.stderr):
                raise self._failure(argv, done)
        return self._merge(accounting.parse, argvs, dones)

    def _run_all(self, argvs: list[list[str]]) -> list[Any]:
        """Run the commands of one round, side by side when there are several."""
        if len(argvs) == 1:
            return [self._run(argvs[0])]
        with ThreadPoolExecutor(max_workers=min(len(argvs), MAX_PARALLEL_COMMANDS),
                                thread_name_prefix="clustrix-status") as pool:
            return list(pool.map(self._run, argvs))

    def _merge(self, parse: Callable[[str], dict[str, JobStatus]], argvs: list[list[str]],
               dones: list[Any]) -> dict[str, JobStatus]:
        merged: dict[str, JobStatus] = {}
        for argv, done in zip(argvs, dones, strict=True):
            merged.update(self._parse(parse, done.stdout, argv))
        return merged

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
