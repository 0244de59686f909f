"""SLURM job states and exit codes as data: every code ``sacct``/``squeue`` print, mapped once.

SLURM prints a job's state as a long word (``sacct`` State, ``squeue %T``) or a compact code
(``squeue %t``); a *flag* state (COMPLETING, REQUEUED...) is printed instead of the base state
while the flag is set. Both spellings of every state in the reference table are listed below. The
mapping is a decision about what the clustrix poller should do, so each non-obvious row says why.

An unknown word (a newer SLURM, a ``?`` for an unprintable state, a ``+``-truncated value from
non-parsable output) maps to :attr:`JobState.UNKNOWN` with a logged warning, never a KeyError:
the poller keeps waiting and the sentinel file decides.
"""

from __future__ import annotations

import logging
import re

from clustrix.errors import SchedulerOutputError
from clustrix.states import JobState

logger = logging.getLogger("clustrix.schedulers.slurm.commands")

_P, _R = JobState.PENDING, JobState.RUNNING

STATES: dict[str, tuple[JobState, str]] = {
    # --- base states ---------------------------------------------------------------------------
    "PENDING": (_P, "waiting for resources or priority"),
    "PD": (_P, "compact PENDING"),
    "RUNNING": (_R, "the batch script runs"),
    "R": (_R, "compact RUNNING"),
    "SUSPENDED": (_R, "allocated and will resume where it stopped; not terminal, so keep waiting"),
    "S": (_R, "compact SUSPENDED"),
    "COMPLETED": (JobState.COMPLETED, "exit code 0 on every node"),
    "CD": (JobState.COMPLETED, "compact COMPLETED"),
    "CANCELLED": (JobState.CANCELLED, "scancel or an administrator; sacct adds ' by <uid>'"),
    "CA": (JobState.CANCELLED, "compact CANCELLED"),
    "FAILED": (JobState.FAILED, "non-zero exit code or launch failure"),
    "F": (JobState.FAILED, "compact FAILED"),
    "TIMEOUT": (JobState.TIMEOUT, "walltime limit reached"),
    "TO": (JobState.TIMEOUT, "compact TIMEOUT"),
    "NODE_FAIL": (JobState.NODE_FAIL, "a node of the allocation failed"),
    "NF": (JobState.NODE_FAIL, "compact NODE_FAIL"),
    "PREEMPTED": (JobState.PREEMPTED, "preempted and not requeued (a requeue shows REQUEUED)"),
    "PR": (JobState.PREEMPTED, "compact PREEMPTED"),
    "BOOT_FAIL": (JobState.NODE_FAIL, "a node failed to boot: an infrastructure failure, "
                  "like NODE_FAIL; resubmitting usually works"),
    "BF": (JobState.NODE_FAIL, "compact BOOT_FAIL"),
    "DEADLINE": (JobState.TIMEOUT, "the --deadline passed before the job could finish: a "
                 "time limit, so it reads as TIMEOUT"),
    "DL": (JobState.TIMEOUT, "compact DEADLINE"),
    "OUT_OF_MEMORY": (JobState.OUT_OF_MEMORY, "the cgroup memory limit killed the job"),
    "OOM": (JobState.OUT_OF_MEMORY, "compact OUT_OF_MEMORY"),
    # --- flag states (printed instead of the base state while set) ------------------------------
    "COMPLETING": (_R, "processes are being cleaned up; the final state is not known yet"),
    "CG": (_R, "compact COMPLETING"),
    "CONFIGURING": (_P, "nodes are allocated but still booting; the script has not started"),
    "CF": (_P, "compact CONFIGURING"),
    "STAGE_OUT": (_R, "the script ended and burst-buffer data is staged out; final state follows"),
    "SO": (_R, "compact STAGE_OUT"),
    "RESIZING": (_R, "the allocation changes size while the job runs"),
    "RS": (_R, "compact RESIZING"),
    "REQUEUED": (_P, "requeued (preemption, node failure, scontrol requeue): it will run again"),
    "RQ": (_P, "compact REQUEUED"),
    "REQUEUE_FED": (_P, "requeued by the federation: it will run again"),
    "RF": (_P, "compact REQUEUE_FED"),
    "REQUEUE_HOLD": (_P, "requeued and held until released (the reason says by whom)"),
    "RH": (_P, "compact REQUEUE_HOLD"),
    "SPECIAL_EXIT": (JobState.FAILED, "requeued held after a site-defined 'special' exit code; it "
                     "never runs again unless an administrator releases it, so report the failure"),
    "SE": (JobState.FAILED, "compact SPECIAL_EXIT"),
    "STOPPED": (_R, "SIGSTOPped but keeps its allocation; resumes on SIGCONT"),
    "ST": (_R, "compact STOPPED"),
    "SIGNALING": (_R, "being signalled (e.g. before a timeout); the outcome follows"),
    "SI": (_R, "compact SIGNALING"),
    "REVOKED": (JobState.CANCELLED, "a federation sibling was revoked because another cluster "
                "runs the job; clustrix does not submit to federations, so it ended here"),
    "RV": (JobState.CANCELLED, "compact REVOKED"),
    "RESV_DEL_HOLD": (_P, "held because its reservation was deleted; waits for release"),
    "RD": (_P, "compact RESV_DEL_HOLD"),
    "EXPEDITING": (_P, "an expedited requeue (normally printed as the base state)"),
}
"""State word -> (clustrix state, why). Keys are upper case; lookups upper-case their input."""

_warned: set[str] = set()  # words already warned about, so a stuck job does not warn every tick
_WARNED_MAX = 256  # bound the memory an adversarial stream of distinct words can take


def map_state(word: str) -> JobState:
    """The clustrix state for one SLURM state word (``CANCELLED``, ``CG``...).

    Unknown words give ``JobState.UNKNOWN`` and one logged warning per distinct word.
    """
    key = word.strip().upper()
    entry = STATES.get(key)
    if entry is not None:
        return entry[0]
    if key not in _warned:
        if len(_warned) < _WARNED_MAX:
            _warned.add(key)
        logger.warning(
            "unknown SLURM job state %r: treating it as UNKNOWN (the poller keeps waiting and the "
            "job's exit-code file decides); please report it with your SLURM version",
            word,
        )
    return JobState.UNKNOWN


# Step rows of jobs killed before they ran carry negative codes (``-2:0``; slurmd's "no exit
# code yet"); the sign is kept.
_EXIT_RE = re.compile(r"(-?[0-9]{1,10}):([0-9]{1,10})")


def parse_exit_code(text: str) -> int | None:
    """``sacct`` ExitCode ``code:signal`` as one shell-style number.

    ``0:0`` -> 0, ``1:0`` -> 1, ``0:15`` -> 143 (128 + signal, as a shell reports a killed child);
    a signal wins over a code; ``-2:0`` (a step row) -> -2. Empty text (steps, some pending
    rows) -> None.
    """
    text = text.strip()
    if not text:
        return None
    m = _EXIT_RE.fullmatch(text)
    if not m:
        raise SchedulerOutputError(f"SLURM exit code {text!r} is not of the form CODE:SIGNAL", text=text)
    code, signal = int(m.group(1)), int(m.group(2))
    return 128 + signal if signal > 0 else code
