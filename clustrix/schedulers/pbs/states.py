"""PBS Pro/OpenPBS and Torque job states and exit statuses as data, and their interpretation.

Both flavours print a one-letter ``job_state`` and, once the job ended, an exit status
(``Exit_status`` in PBS Pro, ``exit_status`` in Torque) whose encoding carries more than the
script's own exit code:

* ``0..255`` — the batch script's exit code;
* ``256 + N`` — the script was killed by signal N (the mom adds ``0x100``): ``qdel`` of a running
  job gives 265 (SIGKILL), a SIGTERM gives 271; Torque also reports a walltime kill as 265;
* negative — the mom's ``JOB_EXEC_*`` code: the job failed to start or was killed for a limit.

Because a limit kill and a ``qdel`` can both look like SIGKILL, :func:`status_from_attrs` compares
the job's used walltime and memory with its limits (when the scheduler reports both) before
calling a signal kill a cancellation. The tables say why each row maps where it does. An unknown
state letter maps to :attr:`JobState.UNKNOWN` with a logged warning, never a KeyError.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from clustrix.errors import SchedulerOutputError
from clustrix.states import JobState, JobStatus

logger = logging.getLogger("clustrix.schedulers.pbs.commands")

_P, _R = JobState.PENDING, JobState.RUNNING
_FINISHED = "finished"  # marker: the terminal state comes from the exit status

PBS_PRO_STATES: dict[str, tuple[JobState | str, str]] = {
    "Q": (_P, "queued, eligible to run"),
    "H": (_P, "held (qhold, a dependency or an array slot limit); not terminal"),
    "W": (_P, "waiting for its -a start time or for file stage-in"),
    "T": (_P, "in transit between servers"),
    "R": (_R, "running"),
    "E": (_R, "exiting: the script ended and files are being staged out; final state follows"),
    "B": (_R, "array job: at least one subjob has begun"),
    "S": (_R, "suspended by the server; keeps its allocation and resumes"),
    "U": (_R, "suspended because the workstation became busy; resumes"),
    "F": (_FINISHED, "finished (history record, shown with -x)"),
    "X": (_FINISHED, "subjob finished (expired)"),
    "M": (JobState.UNKNOWN, "moved to another server: this server no longer knows its outcome"),
}
"""PBS Pro ``job_state`` letters (qstat.1B; OpenPBS ``job_state`` attribute)."""

TORQUE_STATES: dict[str, tuple[JobState | str, str]] = {
    "Q": (_P, "queued, eligible to run"),
    "H": (_P, "held; not terminal"),
    "W": (_P, "waiting for its execution time"),
    "T": (_P, "being moved to a new location"),
    "R": (_R, "running"),
    "E": (_R, "exiting after having run; final state follows as C"),
    "S": (_R, "suspended; resumes"),
    "C": (_FINISHED, "completed (kept for keep_completed seconds)"),
}
"""Torque ``job_state`` letters. Torque has no F, B or X; a finished job shows C."""

PBS_PRO_EXEC_CODES: dict[int, tuple[JobState, str]] = {
    -1: (JobState.FAILED, "JOB_EXEC_FAIL1: job exec failed before files, no retry"),
    -2: (JobState.FAILED, "JOB_EXEC_FAIL2: job exec failed after files, no retry"),
    -3: (JobState.FAILED, "JOB_EXEC_RETRY: job exec failed, the server may retry it"),
    -4: (JobState.FAILED, "JOB_EXEC_INITABT: job aborted on mom initialisation"),
    -5: (JobState.FAILED, "JOB_EXEC_INITRST: job aborted on mom init, checkpoint, no migrate"),
    -6: (JobState.FAILED, "JOB_EXEC_INITRMG: job aborted on mom init, checkpoint, ok migrate"),
    -7: (JobState.FAILED, "JOB_EXEC_BADRESRT: job restart failed"),
    -10: (JobState.FAILED, "JOB_EXEC_FAILUID: invalid uid/gid for the job on the execution host"),
    -11: (JobState.NODE_FAIL, "JOB_EXEC_RERUN: the job was rerun, e.g. after a node failure"),
    -12: (JobState.FAILED, "JOB_EXEC_CHKP: the job was checkpointed and killed"),
    -13: (JobState.FAILED, "JOB_EXEC_FAIL_PASSWORD: bad password"),
    -14: (JobState.NODE_FAIL, "JOB_EXEC_RERUN_ON_SIS_FAIL: a sister mom failed"),
    -15: (JobState.FAILED, "JOB_EXEC_QUERST: requeue for an exec failure"),
    -16: (JobState.FAILED, "JOB_EXEC_FAILHOOK_RERUN: an execjob hook rejected the job (rerun)"),
    -17: (JobState.FAILED, "JOB_EXEC_FAILHOOK_DELETE: an execjob hook rejected the job (deleted)"),
    -18: (JobState.FAILED, "JOB_EXEC_HOOK_RERUN: a hook requested a rerun"),
    -19: (JobState.FAILED, "JOB_EXEC_HOOK_DELETE: a hook requested a delete"),
    -20: (JobState.NODE_FAIL, "JOB_EXEC_RERUN_MS_FAIL: the mother superior connection was lost"),
    -21: (JobState.FAILED, "JOB_EXEC_FAIL_SECURITY: security breach in the PBS directory"),
    -22: (JobState.FAILED, "JOB_EXEC_HOOKERROR: a hook raised or timed out"),
    -23: (JobState.FAILED, "JOB_EXEC_FAIL_KRB5: no kerberos credentials supplied"),
    -24: (JobState.FAILED, "JOB_EXEC_KILL_NCPUS_BURST: ncpus burst limit exceeded"),
    -25: (JobState.FAILED, "JOB_EXEC_KILL_NCPUS_SUM: ncpus sum limit exceeded"),
    -26: (JobState.OUT_OF_MEMORY, "JOB_EXEC_KILL_VMEM: vmem limit exceeded"),
    -27: (JobState.OUT_OF_MEMORY, "JOB_EXEC_KILL_MEM: mem limit exceeded"),
    -28: (JobState.TIMEOUT, "JOB_EXEC_KILL_CPUT: cput limit exceeded"),
    -29: (JobState.TIMEOUT, "JOB_EXEC_KILL_WALLTIME: walltime limit exceeded"),
    -30: (JobState.FAILED, "JOB_EXEC_JOINJOB: a sister mom could not join the job"),
}
"""PBS Pro negative ``Exit_status`` values (OpenPBS ``job.h`` ``JOB_EXEC_*``)."""

TORQUE_EXEC_CODES: dict[int, tuple[JobState, str]] = {
    -1: (JobState.FAILED, "JOB_EXEC_FAIL1: job exec failed before files, no retry"),
    -2: (JobState.FAILED, "JOB_EXEC_FAIL2: job exec failed after files, no retry"),
    -3: (JobState.FAILED, "JOB_EXEC_RETRY: job exec failed, the server may retry it"),
    -4: (JobState.FAILED, "JOB_EXEC_INITABT: job aborted on mom initialisation"),
    -5: (JobState.FAILED, "JOB_EXEC_INITRST: job aborted on mom init, checkpoint, no migrate"),
    -6: (JobState.FAILED, "JOB_EXEC_INITRMG: job aborted on mom init, checkpoint, ok migrate"),
    -7: (JobState.FAILED, "JOB_EXEC_BADRESRT: job restart failed"),
    -8: (JobState.FAILED, "JOB_EXEC_CMDFAIL: exec() of the user command failed"),
    -9: (JobState.FAILED, "JOB_EXEC_STDOUTFAIL: could not create/open the stdout/stderr files"),
    -10: (JobState.OUT_OF_MEMORY, "JOB_EXEC_OVERLIMIT_MEM: memory limit exceeded"),
    -11: (JobState.TIMEOUT, "JOB_EXEC_OVERLIMIT_WT: walltime limit exceeded"),
    -12: (JobState.TIMEOUT, "JOB_EXEC_OVERLIMIT_CPUT: cput limit exceeded"),
    -13: (JobState.FAILED, "JOB_EXEC_RETRY_CGROUP: cgroup setup failed, the server may retry"),
    -14: (JobState.FAILED, "JOB_EXEC_RETRY_PROLOGUE: the prologue failed, the server may retry"),
}
"""Torque negative ``exit_status`` values (Torque 6 admin guide, "Job exit status")."""

SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 10: "SIGUSR1",
                11: "SIGSEGV", 12: "SIGUSR2", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"}

CANCEL_SIGNALS = frozenset({9, 15})
"""Signals ``qdel`` sends (SIGTERM, then SIGKILL after ``kill_delay``): without evidence of a
limit, a job killed by one of them reads as CANCELLED, as psij reads Exit_status 265."""

MEMORY_KILL_FRACTION = 0.9
"""A signal-killed job whose sampled memory use reached this fraction of its limit reads as
OUT_OF_MEMORY: the mom samples usage periodically, so the last sample is often below the limit."""

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(b|w)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_size_bytes(text: object) -> float | None:
    """A PBS size (``15gb``, ``1048576kb``, ``0b``, ``12``) in bytes; None if it is not one.

    Units are powers of 1024; a bare number is bytes; ``w`` (words) is taken as 8 bytes.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text)
    if not isinstance(text, str):
        return None
    m = _SIZE_RE.match(text)
    if not m:
        return None
    factor = 8 if (m.group(3) or "").lower() == "w" else 1
    return float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()] * factor


def parse_duration_s(text: object) -> int | None:
    """A PBS duration (``HH:MM:SS``, ``MM:SS``, plain seconds) in seconds; None if not one."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if not isinstance(text, str):
        return None
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    total = 0
    for part in parts:
        total = total * 60 + int(part)
    return total


def parse_exit_status(value: object, *, job_id: str) -> int | None:
    """The integer exit status of an attribute value (JSON number or text); None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SchedulerOutputError(f"job {job_id}: exit status is not an integer", text=str(value))
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise SchedulerOutputError(f"job {job_id}: exit status is not an integer", text=str(value))


def _limit_reached(attrs: Mapping[str, object], key: str, parse, fraction: float) -> bool:
    used = parse(attrs.get(f"resources_used.{key}"))
    limit = parse(attrs.get(f"Resource_List.{key}"))
    return used is not None and limit is not None and limit > 0 and used >= limit * fraction


def _signal_status(raw: str, exit_status: int, attrs: Mapping[str, object], reason: str) -> JobStatus:
    """Interpret ``Exit_status = 256 + signal``: a limit kill, a cancellation or a crash."""
    sig = exit_status - 256
    name = SIGNAL_NAMES.get(sig, f"signal {sig}")
    if _limit_reached(attrs, "walltime", parse_duration_s, 1.0):
        return JobStatus(JobState.TIMEOUT, raw, reason or f"killed by {name} at its walltime limit",
                         exit_status)
    if _limit_reached(attrs, "mem", parse_size_bytes, MEMORY_KILL_FRACTION):
        return JobStatus(JobState.OUT_OF_MEMORY, raw,
                         reason or f"killed by {name} at its memory limit", exit_status)
    if sig in CANCEL_SIGNALS:
        return JobStatus(JobState.CANCELLED, raw, reason or f"killed by {name} (qdel?)",
                         exit_status)
    return JobStatus(JobState.FAILED, raw, reason or f"killed by {name}", exit_status)


def status_from_attrs(
    job_id: str,
    attrs: Mapping[str, object],
    *,
    states: Mapping[str, tuple[JobState | str, str]],
    exec_codes: Mapping[int, tuple[JobState, str]],
    exit_key: str,
) -> JobStatus:
    """One job's :class:`JobStatus` from its flattened attributes (``resources_used.walltime``).

    ``states``/``exec_codes``/``exit_key`` select the flavour (PBS Pro or Torque). A finished job
    without an exit status was deleted before it ran (PBS keeps no meaningful status for a
    ``qdel``-ed queued job), so it reads as CANCELLED.
    """
    raw = attrs.get("job_state")
    if not isinstance(raw, str) or not raw.strip():
        raise SchedulerOutputError(f"job {job_id} has no job_state", text=repr(dict(attrs))[:400])
    raw = raw.strip()
    comment = attrs.get("comment")
    reason = comment.strip() if isinstance(comment, str) else ""
    exit_status = parse_exit_status(attrs.get(exit_key), job_id=job_id)
    entry = states.get(raw)
    if entry is None:
        logger.warning("job %s: unknown PBS job_state %r; treating it as UNKNOWN", job_id, raw)
        return JobStatus(JobState.UNKNOWN, raw, reason, exit_status)
    state, description = entry
    if isinstance(state, JobState):
        return JobStatus(state, raw, reason or description, exit_status)
    # Finished: the exit status decides.
    if exit_status is None:
        return JobStatus(JobState.CANCELLED, raw, reason or "finished without an exit status "
                         "(deleted before it ran)", None)
    if exit_status == 0:
        return JobStatus(JobState.COMPLETED, raw, reason, 0)
    if 0 < exit_status < 256:
        return JobStatus(JobState.FAILED, raw, reason or f"exit code {exit_status}", exit_status)
    if exit_status >= 256:
        return _signal_status(raw, exit_status, attrs, reason)
    code_state, code_text = exec_codes.get(
        exit_status, (JobState.FAILED, f"JOB_EXEC code {exit_status}: the job failed to run"))
    return JobStatus(code_state, raw, f"{code_text}; {reason}" if reason else code_text, exit_status)


def flatten(attrs: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Nested JSON attributes (``{"resources_used": {"mem": ..}}``) as dotted keys."""
    flat: dict[str, object] = {}
    for key, value in attrs.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
