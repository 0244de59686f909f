"""SGE/UGE/OGE job states and ``qacct`` outcomes as data, and their interpretation.

``qstat`` shows a job's state as a concatenation of letters (``d`` deleted, ``E`` error, ``h``
hold, ``r`` running, ``R`` restarted, ``s``/``S`` suspended, ``t`` transferring, ``T``
threshold, ``w`` waiting, ``q`` queued). :data:`STATES` lists every combination seen in practice;
an unknown one maps to :attr:`JobState.UNKNOWN` with a logged warning, never a KeyError.

Finished jobs vanish from ``qstat``; their outcome is in ``qacct -j``: ``failed`` says whether
and where the execution daemon failed (:data:`FAILED_CODES`), ``exit_status`` is the script's
exit code or ``128 + signal``. A hard-limit kill (``h_rt``, ``h_vmem``) and a ``qdel`` both end in
SIGKILL (137), so :func:`status_from_accounting` compares the used wallclock and memory with the
limits recorded in the ``category`` line before calling a kill a cancellation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from clustrix.states import JobState, JobStatus

logger = logging.getLogger("clustrix.schedulers.sge.commands")

_P, _R = JobState.PENDING, JobState.RUNNING
_SUSPENDED = "suspended; keeps its slots and resumes, so not terminal"
_ERROR = ("error state: the job cannot start until an administrator clears it (qstat -j <id> "
          "says why; qmod -cj clears it, qdel removes it)")
_DELETING = "being deleted (qdel); it leaves the queue shortly"

STATES: dict[str, tuple[JobState, str]] = {
    "qw": (_P, "queued, waiting"),
    "w": (_P, "waiting"),
    "hqw": (_P, "held (user, operator, system or -hold_jid dependency), queued"),
    "hRwq": (_P, "held and restarted, queued"),
    "hRqw": (_P, "held and restarted, queued"),
    "Rq": (_P, "restarted (rescheduled), queued"),
    "Rqw": (_P, "restarted (rescheduled), queued"),
    "r": (_R, "running"),
    "t": (_R, "being transferred to its execution host; starts momentarily"),
    "Rr": (_R, "restarted and running"),
    "Rt": (_R, "restarted and being transferred"),
    "hr": (_R, "running; a hold only matters if it is rescheduled"),
    "s": (_R, _SUSPENDED),
    "ts": (_R, _SUSPENDED),
    "S": (_R, "queue suspended; " + _SUSPENDED),
    "tS": (_R, "queue suspended; " + _SUSPENDED),
    "T": (_R, "suspend threshold reached; " + _SUSPENDED),
    "tT": (_R, "suspend threshold reached; " + _SUSPENDED),
    "Rs": (_R, "restarted; " + _SUSPENDED),
    "RS": (_R, "restarted; " + _SUSPENDED),
    "RT": (_R, "restarted; " + _SUSPENDED),
    "Eqw": (JobState.FAILED, _ERROR),
    "Ehqw": (JobState.FAILED, _ERROR),
    "EhRqw": (JobState.FAILED, _ERROR),
    "ERqw": (JobState.FAILED, _ERROR),
    "dr": (JobState.CANCELLED, _DELETING),
    "dt": (JobState.CANCELLED, _DELETING),
    "dRr": (JobState.CANCELLED, _DELETING),
    "dRt": (JobState.CANCELLED, _DELETING),
    "ds": (JobState.CANCELLED, _DELETING),
    "dS": (JobState.CANCELLED, _DELETING),
    "dT": (JobState.CANCELLED, _DELETING),
    "dqw": (JobState.CANCELLED, _DELETING),
    "dhqw": (JobState.CANCELLED, _DELETING),
    "dEqw": (JobState.CANCELLED, _DELETING),
}
"""qstat state codes (qstat.1; ``source/clients/qstat``)."""


def status_from_code(job_id: str, code: str) -> JobStatus:
    """The :class:`JobStatus` of a qstat state code."""
    entry = STATES.get(code)
    if entry is None:
        logger.warning("job %s: unknown SGE state %r; treating it as UNKNOWN", job_id, code)
        return JobStatus(JobState.UNKNOWN, code, "")
    return JobStatus(entry[0], code, entry[1])


FAILED_CODES: dict[int, str] = {
    1: "assumedly before job: the job could not be started",
    3: "before writing config: the job could not be started",
    4: "before writing PID: the job could not be started",
    5: "on reading config file: the job could not be started",
    6: "setting processor set: the job could not be started",
    7: "before prolog: the job could not be started",
    8: "in prolog: the job could not be started",
    9: "before pestart: the job could not be started",
    10: "in pestart: the job could not be started",
    11: "before job: the job could not be started",
    12: "before pestop: the job ran, the PE stop failed",
    13: "in pestop: the job ran, the PE stop failed",
    14: "before epilog: the job ran, the epilog failed",
    15: "in epilog: the job ran, the epilog failed",
    16: "releasing processor set: the job ran",
    19: "before writing exit_status: the job ran, its status was lost",
    20: "found unexpected error file",
    21: "in recognizing job: the qmaster did not know the job",
    24: "migrating (checkpointing jobs)",
    25: "rescheduling: the job was rescheduled",
    26: "opening output file: the -o/-e file could not be opened",
    27: "searching requested shell: the -S shell was not found",
    28: "changing to working directory: the working directory is missing",
    29: "AFS setup failed",
    36: "check daemon configuration",
    37: "qmaster enforced h_rt, h_cpu, or h_vmem limit",
    38: "adding supplementary group failed",
    100: "assumedly after job: the job ran and was ended by a signal or limit",
}
"""qacct ``failed`` codes (sge_diagnostics / execd ``SSTATE_*``)."""

LIMIT_FAILED = 37
AFTER_JOB_FAILED = 100
MEMORY_KILL_FRACTION = 0.9
"""A killed job whose ``maxvmem`` reached this fraction of ``h_vmem * slots`` reads as
OUT_OF_MEMORY: usage is sampled, so the last sample is usually below the limit."""
SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 10: "SIGUSR1",
                11: "SIGSEGV", 12: "SIGUSR2", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"}

_NUM_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")
_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)B?\s*$")  # 8.1.9 qacct: 3.102MB, 0.000B
_MEM_UNITS = {"": 1, "k": 1000, "K": 1024, "m": 1000**2, "M": 1024**2, "g": 1000**3,
              "G": 1024**3, "t": 1000**4, "T": 1024**4}


def leading_int(text: str | None) -> int | None:
    """The integer a qacct value starts with (``"100 : assumedly after job"`` -> 100)."""
    m = _NUM_RE.match(text or "")
    return int(float(m.group(1))) if m else None


def parse_memory_bytes(text: str | None) -> float | None:
    """An SGE memory value in bytes: ``K/M/G/T`` are powers of 1024, ``k/m/g/t`` of 1000; a
    trailing ``B`` (real 8.1.9's qacct prints ``maxvmem 3.102MB``) is allowed."""
    m = _MEM_RE.match(text or "")
    return float(m.group(1)) * _MEM_UNITS[m.group(2)] if m else None


def parse_time_s(text: str | None) -> float | None:
    """An SGE time (``3600``, ``1:00:00``, ``60.5s``) in seconds; None if not one."""
    s = (text or "").strip().rstrip("s")
    parts = s.split(":")
    if not s or len(parts) > 3 or not all(re.fullmatch(r"\d+(?:\.\d+)?", p) for p in parts):
        return None
    total = 0.0
    for part in parts:
        total = total * 60 + float(part)
    return total


def category_limits(category: str | None) -> dict[str, str]:
    """The ``-l`` resources of a qacct ``category`` (``-l h_rt=60,h_vmem=1G -pe smp 2``)."""
    words = (category or "").split()
    limits: dict[str, str] = {}
    for flag, value in zip(words, words[1:], strict=False):
        if flag in ("-l", "-hard"):
            for item in value.split(","):
                key, sep, val = item.partition("=")
                if sep:
                    limits[key.strip()] = val.strip()
    return limits


def _limit_state(record: Mapping[str, str]) -> tuple[JobState, str] | None:
    """TIMEOUT or OUT_OF_MEMORY when the record shows a limit reached, else None."""
    limits = category_limits(record.get("category"))
    used_s = parse_time_s(record.get("ru_wallclock"))
    limit_s = parse_time_s(limits.get("h_rt"))
    if used_s is not None and limit_s and used_s >= limit_s:
        return JobState.TIMEOUT, f"ran {used_s:g}s, h_rt limit {limit_s:g}s"
    used_b = parse_memory_bytes(record.get("maxvmem"))
    per_slot = parse_memory_bytes(limits.get("h_vmem"))
    slots = leading_int(record.get("slots")) or 1
    if used_b is not None and per_slot and used_b >= per_slot * slots * MEMORY_KILL_FRACTION:
        return JobState.OUT_OF_MEMORY, f"maxvmem {record.get('maxvmem')}, h_vmem {per_slot:g}B x {slots} slots"
    return None


def status_from_accounting(record: Mapping[str, str]) -> JobStatus:
    """The final :class:`JobStatus` of one qacct record (its ``failed`` and ``exit_status``)."""
    failed = leading_int(record.get("failed")) or 0
    exit_status = leading_int(record.get("exit_status"))
    raw = f"failed={failed} exit_status={exit_status}"
    deleted_by = (record.get("deleted_by") or "").strip()
    if deleted_by and deleted_by.upper() != "NONE":
        return JobStatus(JobState.CANCELLED, raw, f"deleted by {deleted_by}", exit_status)
    if failed not in (0, AFTER_JOB_FAILED, LIMIT_FAILED):
        text = FAILED_CODES.get(failed, f"failed code {failed}")
        return JobStatus(JobState.FAILED, raw, f"failed {failed}: {text}", exit_status)
    if failed == 0 and exit_status == 0:
        return JobStatus(JobState.COMPLETED, raw, "", 0)
    if exit_status is not None and 0 < exit_status < 128 and failed != LIMIT_FAILED:
        return JobStatus(JobState.FAILED, raw, f"exit code {exit_status}", exit_status)
    limit = _limit_state(record)
    if limit is not None:
        return JobStatus(limit[0], raw, limit[1], exit_status)
    if failed == LIMIT_FAILED:
        return JobStatus(JobState.FAILED, raw, f"failed 37: {FAILED_CODES[37]} (which one is "
                         "not recorded)", exit_status)
    if exit_status is not None and exit_status > 128:
        sig = exit_status - 128
        name = SIGNAL_NAMES.get(sig, f"signal {sig}")
        if sig == 9:
            return JobStatus(JobState.CANCELLED, raw, "killed by SIGKILL (qdel?)", exit_status)
        return JobStatus(JobState.FAILED, raw, f"killed by {name}", exit_status)
    return JobStatus(JobState.FAILED, raw, f"failed {failed}: {FAILED_CODES.get(failed, '')}",
                     exit_status)
