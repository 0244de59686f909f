"""Helpers shared by the SLURM tools: the controller call, the caller's identity, record views.

Kept to the standard library and imported lazily by each tool, because every tool invocation
is a fresh process and startup time matters.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from clustrix_sim.controller.protocol import current_user  # noqa: F401 - the front end's modules import it from here

if TYPE_CHECKING:  # the model (and dataclasses) load only when a tool needs records
    from clustrix_sim.engine.model import JobRecord

__all__ = [
    "array_range_text",
    "call",
    "current_user",
    "error_exit",
    "job_display_id",
    "load_records",
    "partition_of",
    "ParsedArgs",
    "parse_tool_args",
    "say",
    "shown_priority",
    "version_line",
    "warn",
]


def version_line() -> str:
    """What ``--version`` prints: ``slurm 22.05.8`` (the release the cluster answers as)."""
    from clustrix_sim.slurm.versions import full_version

    return f"slurm {full_version()}\n"


def say(text: str) -> None:
    """Write to stdout exactly (no newline added)."""
    sys.stdout.write(text)


def warn(line: str) -> None:
    """Write one line to stderr."""
    sys.stderr.write(line + "\n")


class ParsedArgs:
    """A tool's parsed command line: options in order, positionals, and two views of them."""

    __slots__ = ("last", "opts", "positionals", "present")

    def __init__(self, opts: list[tuple[str, str | None]], positionals: list[str]):
        self.opts = opts
        self.positionals = positionals
        self.present = {k for k, _ in opts}
        self.last = dict(opts)  # the last value given for each option


def parse_tool_args(argv: list[str], options: list, prog: str, usage: str) -> ParsedArgs | int:
    """getopt_long plus what the query tools share; an int is the exit code to return now.

    A bad option prints glibc's message and ``Try "<prog> --help"`` (rc 1); ``--version`` prints
    the Slurm version and ``--help``/``--usage`` the usage text (rc 0).
    """
    from clustrix_sim.slurm.options import GetoptError, getopt_long

    try:
        opts, positionals = getopt_long(argv, options, prog=prog)
    except GetoptError as exc:
        # sacct prints glibc's line alone (22.05 and 24.11 measured); the others add a hint
        hint = "" if prog == "sacct" else f"Try \"{prog} --help\" for more information\n"
        sys.stderr.write(f"{exc}\n{hint}")
        return 1
    parsed = ParsedArgs(opts, positionals)
    if "version" in parsed.present:
        sys.stdout.write(version_line())
        return 0
    if "help" in parsed.present or "usage" in parsed.present:
        sys.stdout.write(usage)
        return 0
    return parsed


def error_exit() -> int:
    """Slurm's ``error_exit``: 1, or ``$SLURM_EXIT_ERROR`` when set to a number."""
    raw = os.environ.get("SLURM_EXIT_ERROR", "")
    try:
        return int(raw) & 0xFF if raw else 1
    except ValueError:
        return 1




def call(op: str, tool: str, params: dict | None = None):  # noqa: ANN201 - JSON value
    """One controller request (``clustrix_sim.controller.protocol.call``); faults and refusals propagate."""
    from clustrix_sim.controller import protocol

    return protocol.call(op, tool, params or {})


def load_records(result: dict) -> list[JobRecord]:
    """JobRecords from a ``jobs``/``accounting`` reply."""
    from clustrix_sim.engine.model import JobRecord

    return [JobRecord.from_dict(item) for item in result.get("jobs", [])]


def partition_of(record: JobRecord) -> str:
    """The partition a job runs or waits in (the first of a ``p1,p2`` request)."""
    part = getattr(record, "partition", "") or record.request.partition or ""
    return str(part).split(",")[0]


def job_display_id(record: JobRecord) -> str:
    """squeue's ``%i``/sacct's ``JobID`` for one record: ``123`` or ``123_4``."""
    if record.array_job_id is not None and record.array_task_id is not None:
        return f"{record.array_job_id}_{record.array_task_id}"
    return str(record.job_id)


def array_range_text(task_ids: list[int], throttle: int | None) -> str:
    """``[5-9,12%2]``: Slurm's bitmap format of pending task ids plus the throttle."""
    ordered = sorted(set(task_ids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    text = ",".join(parts)
    if throttle:
        text += f"%{throttle}"
    return f"[{text}]"


def group_pending_tasks(records: list[JobRecord]) -> list[tuple[JobRecord, str]]:
    """Fold the tasks of each array that never started into one row, as squeue (without ``-r``)
    and sacct show them (in Slurm they are still one record, pending or, once cancelled, in
    a final state): returns ``(representative record, display id)`` pairs in input order."""
    pending: dict[tuple[int, str], list[JobRecord]] = {}
    for rec in records:
        if rec.array_job_id is not None and not rec.node_list:
            pending.setdefault((rec.array_job_id, rec.state), []).append(rec)
    rows: list[tuple[JobRecord, str]] = []
    emitted: set[tuple[int, str]] = set()
    for rec in records:
        key = (rec.array_job_id, rec.state) if rec.array_job_id is not None else None
        group = pending.get(key) if key is not None and not rec.node_list else None
        if group is None or len(group) == 1:
            rows.append((rec, job_display_id(rec)))
            continue
        if key in emitted:
            continue
        emitted.add(key)
        first = min(group, key=lambda r: r.array_task_id or 0)
        text = array_range_text([r.array_task_id or 0 for r in group],
                                first.request.array_max_parallel)
        rows.append((first, f"{first.array_job_id}_{text}"))
    return rows


def shown_priority(rec: JobRecord) -> int:
    """The job's priority as the release shows it. The simulator ranks jobs as priority/basic
    does (each job one below the last; held 0), 22.05's default PriorityType; 24.11's default
    is priority/multifactor, which with no weights configured gives every job 1 (held 0)."""
    from clustrix_sim.slurm.versions import at_least

    if at_least("24.11"):
        return 1 if rec.priority else 0
    return rec.priority
