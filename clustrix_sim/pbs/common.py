"""What every PBS command shares: the controller call, job ids, and a record seen the PBS way.

A PBS job id is ``<seq>.<server>``; an array is ``<seq>[].<server>`` and its subjobs
``<seq>[<index>].<server>``. The engine keeps one record per subjob (each with its own engine
id), so the array's ``seq`` is its first record's id and a subjob is found by
(``array_job_id``, ``array_task_id``). A plain ``<seq>`` never names a subjob.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clustrix_sim.controller.protocol import current_user  # noqa: F401 - the front end's modules import it from here

if TYPE_CHECKING:
    from clustrix_sim.engine.model import JobRecord
    from clustrix_sim.pbs.dialect import Dialect

__all__ = ["PBSE_HISTJOBID", "PBSE_UNKJOBID", "JobRef", "call", "current_user", "display_id",
           "exit_status", "is_finished", "load", "parse_job_id", "server_info", "state_letter"]

# pbs_error.h numbers; a command exits with ``pbs_errno & 0xFF``.
PBSE_UNKJOBID = 15001  # Unknown Job Id
PBSE_IVALREQ = 15004  # Invalid request
PBSE_BADATVAL = 15014  # Illegal attribute or resource value
PBSE_BADSTATE = 15016  # Request invalid for state of job
PBSE_UNKQUE = 15018  # Unknown queue
PBSE_UNKRESC = 15035  # Unknown resource
PBSE_HISTJOBID = 15139  # Job has finished (history)

_ID_RE = re.compile(r"^(\d+)(?:\[(\d*)\])?(?:\.(\S+))?$")


@dataclass(frozen=True)
class JobRef:
    """A job id as a user typed it: ``seq``; ``index`` None (plain job), ``""`` (``123[]``, the
    array) or the subjob index; ``server`` as typed (None when left out)."""

    seq: int
    index: int | str | None
    server: str | None
    text: str

    def full(self, server: str) -> str:
        bracket = "" if self.index is None else f"[{self.index}]"
        return f"{self.seq}{bracket}.{self.server or server}"


def parse_job_id(text: str) -> JobRef | None:
    """``123``, ``123.server``, ``123[]``, ``123[4].server``; None for anything else."""
    m = _ID_RE.match(text.strip())
    if not m:
        return None
    index: int | str | None = None
    if m.group(2) is not None:
        index = int(m.group(2)) if m.group(2) else ""
    elif "[" in text:
        index = ""
    return JobRef(int(m.group(1)), index, m.group(3), text)


def call(op: str, tool: str, params: dict | None = None):  # noqa: ANN201 - a JSON value
    from clustrix_sim.controller import protocol

    return protocol.call(op, tool, params or {})


def server_info(tool: str) -> dict:
    """The controller's ``info``: ``server`` (the PBS server's host name), ``accounting_enabled``
    (job history), ``now`` (simulated epoch seconds)."""
    return call("info", tool)




def load(tool: str, seqs: list[int] | None, *, history: bool) -> list[JobRecord]:
    """Records of the PBS jobs ``seqs`` (all when None). With ``history`` (job history on), every
    record the server ever had; otherwise the ones still in the queue."""
    from clustrix_sim.controller import protocol
    from clustrix_sim.engine.model import JobRecord

    params = {"job_ids": seqs, "include_array_indices": True, "include_env": False}
    result = None
    if history:
        try:
            result = call("accounting", tool, params)
        except protocol.RequestRefused as exc:
            if exc.kind != "accounting_disabled":
                raise
    if result is None:
        result = call("jobs", tool, {**params, "include_finished": True})
    return [JobRecord.from_dict(d) for d in result["jobs"]]


def is_finished(rec: JobRecord) -> bool:
    from clustrix_sim.engine.model import FINAL_STATES

    return rec.state in FINAL_STATES


def state_letter(rec: JobRecord, dialect: Dialect) -> str:
    """The one-letter ``job_state`` of one job or subjob record."""
    state = rec.state
    if state == "PENDING":
        return "H" if rec.held or rec.reason == "Dependency" else "Q"
    if state == "RUNNING":
        return "R"
    if state == "COMPLETING":
        return "E"
    if state == "SUSPENDED":
        return "S"
    return dialect.finished_subjob if rec.array_job_id is not None else dialect.finished


def exit_status(rec: JobRecord, dialect: Dialect) -> int | None:
    """The job's ``Exit_status`` once it ended: the script's code, ``256 + signal`` when a
    signal killed it, or the mom's ``JOB_EXEC_*`` code for a limit kill; None for a job that
    never ran (deleted while queued: PBS keeps no exit status for it)."""
    if not is_finished(rec) or rec.start_time is None:
        return None
    if rec.state == "TIMEOUT":
        return dialect.walltime_exit
    if rec.state == "OUT_OF_MEMORY":
        return dialect.mem_exit
    if rec.state == "NODE_FAIL":
        return dialect.node_fail_exit
    if rec.exit_signal:
        return 256 + rec.exit_signal
    return rec.exit_code


def display_id(rec: JobRecord, server: str, *, parent: bool = False) -> str:
    """``123.server``, a subjob ``123[4].server``, or (``parent``) its array ``123[].server``."""
    if rec.array_job_id is None:
        return f"{rec.job_id}.{server}"
    if parent:
        return f"{rec.array_job_id}[].{server}"
    return f"{rec.array_job_id}[{rec.array_task_id}].{server}"


def fail(prog: str, message: str, errno: int) -> int:
    """Print ``<prog>: <message>`` on stderr; the exit code is ``pbs_errno & 0xFF``."""
    sys.stderr.write(f"{prog}: {message}\n")
    return errno & 0xFF
