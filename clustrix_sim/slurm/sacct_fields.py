"""sacct's fields and Slurm's ``print_fields`` rules.

Non-parsable output: each value is padded to ``abs(width)`` (right-justified for a positive
width, left for a negative one), cut with ``+`` as its last character when too long, and
followed by one space, so every line ends with a space. ``-p`` ends every field with ``|``;
``-P`` puts ``|`` between fields only; ``--delimiter`` replaces ``|``. Parsable output is never
padded or cut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.slurm.common import partition_of, shown_priority
from clustrix_sim.slurm.hostlist import compress
from clustrix_sim.slurm.timefmt import secs2time_str, timestamp
from clustrix_sim.slurm.versions import at_least

__all__ = ["FIELDS", "SacctRow", "find_field", "format_lines"]


@dataclass(frozen=True)
class SacctRow:
    """One sacct line: a job (``step`` None) or one of its steps (``batch``/``extern``)."""

    record: JobRecord
    job_id_text: str
    step: str | None
    now: float


def _job_state(row: SacctRow) -> str:
    rec = row.record
    if row.step is None:
        if rec.state == "CANCELLED" and rec.cancelled_by_uid is not None:
            return f"CANCELLED by {rec.cancelled_by_uid}"
        return rec.state
    if rec.state in ("RUNNING", "COMPLETING", "SUSPENDED"):
        return "RUNNING"
    if row.step == "extern":
        return "COMPLETED" if rec.state != "CANCELLED" else "CANCELLED"
    return {"TIMEOUT": "CANCELLED", "PREEMPTED": "CANCELLED", "DEADLINE": "CANCELLED"}.get(
        rec.state, rec.state)


def _exit(row: SacctRow) -> str:
    rec = row.record
    if row.step == "extern":
        return "0:0"
    if row.step is None and rec.state in ("CANCELLED", "TIMEOUT"):
        return "0:0"  # slurmctld killed it: the signal is the .batch step's, not the job's"
    return f"{rec.exit_code}:{rec.exit_signal}"


def _elapsed_s(row: SacctRow) -> int:
    rec = row.record
    if rec.start_time is None or rec.state == "PENDING":
        return 0
    end = rec.end_time if rec.end_time is not None else row.now
    return max(int(end - rec.start_time), 0)


def _nodelist(row: SacctRow) -> str:
    rec = row.record
    if not rec.node_list:
        return "None assigned"
    if row.step == "batch":
        return rec.node_list[0]
    return compress(rec.node_list)


def _alloc_cpus(row: SacctRow) -> str:
    rec = row.record
    if rec.state == "PENDING" or rec.start_time is None:
        return "0"
    if not rec.node_list and at_least("24.11"):  # 22.05 counts a job cancelled before it ran
        return "0"
    cpus = rec.alloc_cpus or rec.request.ntasks * rec.request.cpus_per_task
    if row.step == "batch" and rec.node_list:
        cpus = -(-cpus // len(rec.node_list))
    return str(cpus)


def _timelimit(row: SacctRow) -> str:
    if row.step is not None:
        return ""
    limit = row.record.request.time_limit_s
    if limit is None:
        return "Partition_Limit"
    return "UNLIMITED" if limit == 0 else secs2time_str(-(-int(limit) // 60) * 60)


def _req_mem(row: SacctRow) -> str:
    req = row.record.request
    if req.mem_mb is not None:
        return f"{req.mem_mb}M"
    if req.mem_per_cpu_mb is not None:
        return f"{req.mem_per_cpu_mb}Mc"
    return "0"


def _max_rss(row: SacctRow) -> str:
    if row.step is None:
        return ""
    rss = row.record.max_rss_mb
    return f"{int(rss * 1024)}K" if rss else "0"


def _name(row: SacctRow) -> str:
    return row.step if row.step else row.record.request.name


def _job_only(get: Callable[[JobRecord], str]) -> Callable[[SacctRow], str]:
    return lambda row: get(row.record) if row.step is None else ""


def _raw_id(row: SacctRow) -> str:
    return str(row.record.job_id) + (f".{row.step}" if row.step else "")


def _start(row: SacctRow) -> str:
    rec = row.record
    return timestamp(rec.start_time) if rec.state != "PENDING" else "Unknown"


def _end(row: SacctRow) -> str:
    rec = row.record
    return timestamp(rec.end_time) if rec.end_time else "Unknown"


# (name, default width, value); order matters: -o names match the first entry by prefix.
FIELDS: list[tuple[str, int, Callable[[SacctRow], str]]] = [
    ("Account", 10, lambda r: r.record.request.account or ""),
    ("AdminComment", 15, lambda r: ""),
    ("AllocCPUS", 10, _alloc_cpus),
    ("AllocNodes", 10, lambda r: str(len(r.record.node_list))),
    ("AllocTRES", 10, lambda r: f"cpu={_alloc_cpus(r)},node={len(r.record.node_list) or 1}"
     if r.record.node_list else ""),
    ("ArrayJobID", 12, lambda r: str(r.record.array_job_id) if r.record.array_job_id else ""),
    ("ArrayTaskID", 12, lambda r: str(r.record.array_task_id)
     if r.record.array_task_id is not None else ""),
    ("AssocID", 10, lambda r: "0"),
    ("AveRSS", 10, _max_rss),
    ("Cluster", 10, lambda r: r.record.request.flavor_options.get("cluster", "")),
    ("Comment", 15, _job_only(lambda rec: rec.request.comment or "")),
    ("Constraints", 19, _job_only(lambda rec: rec.request.constraint or "")),
    ("CPUTime", 10, lambda r: secs2time_str(_elapsed_s(r) * int(_alloc_cpus(r)))),
    ("CPUTimeRAW", 10, lambda r: str(_elapsed_s(r) * int(_alloc_cpus(r)))),
    ("DerivedExitCode", 15, _job_only(lambda rec: f"{rec.exit_code}:{rec.exit_signal}")),
    ("Elapsed", 10, lambda r: secs2time_str(_elapsed_s(r))),
    ("ElapsedRaw", 10, lambda r: str(_elapsed_s(r))),
    ("Eligible", 19, lambda r: timestamp(r.record.eligible_time) if r.record.eligible_time else "Unknown"),
    ("End", 19, _end),
    ("ExitCode", 8, _exit),
    ("GID", 6, lambda r: str(r.record.request.uid)),
    ("Group", 9, lambda r: r.record.request.user),
    ("JobID", -12, lambda r: r.job_id_text + (f".{r.step}" if r.step else "")),
    ("JobIDRaw", -12, _raw_id),  # left-aligned like JobID (22.05 and 24.11 measured)
    ("JobName", 10, _name),
    ("MaxRSS", 10, _max_rss),
    ("MaxRSSNode", 10, lambda r: r.record.node_list[0] if r.step and r.record.node_list else ""),
    ("MaxRSSTask", 10, lambda r: "0" if r.step else ""),
    ("NCPUS", 10, _alloc_cpus),
    ("NNodes", 8, lambda r: str(len(r.record.node_list) or r.record.request.nodes)),
    ("NodeList", 15, _nodelist),
    ("NTasks", 8, lambda r: "1" if r.step else ""),
    ("Partition", 10, _job_only(partition_of)),
    ("Priority", 10, lambda r: str(shown_priority(r.record))),
    ("QOS", 10, _job_only(lambda rec: rec.request.qos or "normal")),
    ("Reason", 20, lambda r: r.record.acct_reason or "None"),
    ("ReqCPUS", 8, lambda r: str(r.record.request.ntasks * r.record.request.cpus_per_task)),
    ("ReqMem", 10, _req_mem),
    ("ReqNodes", 8, lambda r: str(r.record.request.nodes)),
    ("Reservation", 20, lambda r: ""),
    ("Start", 19, _start),
    ("State", 10, _job_state),
    ("Submit", 19, lambda r: timestamp(r.record.submit_time)),
    ("Suspended", 10, lambda r: "00:00:00"),
    ("SystemCPU", 10, lambda r: "00:00:00"),
    ("Timelimit", 10, _timelimit),
    ("TimelimitRaw", 10, lambda r: "" if r.step else str(
        (r.record.request.time_limit_s or 0) // 60 or "UNLIMITED")),
    ("TotalCPU", 10, lambda r: "00:00:00"),
    ("UID", 6, lambda r: str(r.record.request.uid)),
    ("User", 9, _job_only(lambda rec: rec.request.user)),
    ("UserCPU", 10, lambda r: "00:00:00"),
    ("WCKey", 10, _job_only(lambda rec: rec.request.wckey or "")),
    ("WorkDir", 20, _job_only(lambda rec: rec.request.work_dir)),
]

DEFAULT_FIELDS = "jobid,jobname,partition,account,alloccpus,state,exitcode"


def find_field(spec: str) -> tuple[str, int, Callable[[SacctRow], str]] | None:
    """Resolve ``name[%width]``: case-insensitive prefix match, first entry wins."""
    name, pct, width = spec.partition("%")
    lowered = name.lower()
    for entry_name, default_width, func in FIELDS:
        if entry_name.lower().startswith(lowered) and lowered:
            if pct:
                try:
                    return entry_name, int(width), func
                except ValueError:
                    return entry_name, default_width, func
            return entry_name, default_width, func
    return None


def _cell(text: str, width: int) -> str:
    size = abs(width)
    if len(text) > size:
        text = text[: size - 1] + "+" if size else ""
    return (text.rjust(size) if width >= 0 else text.ljust(size)) + " "


def format_lines(
    rows: list[SacctRow],
    fields: list[tuple[str, int, Callable[[SacctRow], str]]],
    *,
    header: bool,
    parsable: str | None,
    delimiter: str | None,
) -> str:
    """Render sacct output. ``parsable``: None, ``"p"`` (-p) or ``"P"`` (-P)."""
    sep = delimiter if delimiter is not None else "|"

    def line(cells: list[str], is_header: bool) -> str:
        if parsable == "P":
            return sep.join(cells) + "\n"
        if parsable == "p":
            return "".join(c + sep for c in cells) + "\n"
        out = []
        for (_, width, _), cell in zip(fields, cells, strict=True):
            if is_header:
                size = abs(width)
                out.append((cell[:size].rjust(size) if width >= 0 else cell[:size].ljust(size))
                           + " ")
            else:
                out.append(_cell(cell, width))
        return "".join(out) + "\n"

    text: list[str] = []
    if header:
        text.append(line([name for name, _, _ in fields], True))
        if parsable is None:
            text.append("".join("-" * abs(w) + " " for _, w, _ in fields) + "\n")
    for row in rows:
        text.append(line([func(row) for _, _, func in fields], False))
    return "".join(text)
