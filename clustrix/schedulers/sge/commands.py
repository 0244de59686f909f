"""Sun/Univa/Open Grid Engine: batch script, argv and output parsing (pure, no I/O).

Submit ``qsub -terse <script>`` (prints ``123``, or ``124.1-10:1`` for an array; the chatty
``Your job 123 ("name") has been submitted`` is accepted too); status ``qstat -xml`` (the caller's
pending and running jobs; SGE cannot filter by id, so the poller picks its ids from the result);
finished jobs vanish from qstat at once, so their outcome comes from ``qacct -j <id>``
(:func:`accounting_argv`, :func:`parse_accounting`); cancel ``qdel <ids>`` (``123.4`` deletes one
task).

Script decisions (SGE 6.2 ``parse_job_cull.c``/``parse_qsub.c``):

* **Every** line starting ``#$`` is a directive, wherever it is (a user setup line starting with
  ``#$`` would be read as one). A directive line is split on blanks with ``"`` grouping words and
  then stripped of every ``"``; so :func:`quote_value` wraps values containing blanks in double
  quotes, and a value containing ``"`` cannot be expressed (ResourceError). Some versions also
  cut a trailing ``#`` comment from directive lines, so ``#`` in a value is refused too.
* **Tasks are 1-based**: ``-t 1-N`` (``-tc k`` caps running tasks); the body subtracts 1 from
  ``SGE_TASK_ID`` so clustrix task *i* is SGE task *i+1*, id ``123.<i+1>`` (:func:`task_ids`).
* **Logs**: ``-o``/``-e`` expand the pseudo variable ``$TASK_ID`` to the SGE task id, so clustrix
  task *i* writes ``stdout.<i+1>.log`` (:func:`log_paths`). SGE reads ``host:path`` and expands
  ``$HOME $USER $JOB_ID $JOB_NAME $HOSTNAME $TASK_ID`` in these paths, so a job directory
  containing ``:`` or one of those is refused.
* **Cores** use the parallel environment :data:`PARALLEL_ENVIRONMENT` (``-pe smp C``), only when
  cores > 1 and no ``-pe`` is among the extra directives (that is how to pick another PE, or
  spread over hosts; ``nodes > 1`` requires one). **Memory**: ``h_vmem`` is a per-slot limit, so
  ``-l h_vmem=<ceil(mem_mb / cores)>M`` makes the job's total ``mem_mb``. GPUs use the site
  complex :data:`GPU_RESOURCE`. ``account`` is the project ``-P``; SGE has no QOS.
"""

from __future__ import annotations

import logging
import math
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from clustrix.errors import ResourceError, SchedulerOutputError
from clustrix.schedulers.clock_text import ctime_local
from clustrix.schedulers.contract import Accounting, TaskTimes, TaskTimesQuery
from clustrix.schedulers.pbs import commands as pbs
from clustrix.schedulers.script import render_body
from clustrix.schedulers.sge.states import status_from_accounting, status_from_code
from clustrix.spec import ArraySpec, JobPaths, JobSpec, format_hms
from clustrix.states import JobId, JobStatus

log = logging.getLogger(__name__)

NAME = "sge"
TIME_GRANULARITY_S = 1
"""Grid Engine enforces ``h_rt`` to the second."""
SHELL = "/bin/bash"
TASK_VAR = "SGE_TASK_ID"
PARALLEL_ENVIRONMENT = "smp"
MEMORY_RESOURCE = "h_vmem"
GPU_RESOURCE = "gpu"
MAX_JOB_NAME_LEN = 230
MAX_EXPANDED_TASKS = 1_000_000
"""Refuse to expand a qstat task range beyond this (SGE's default max_aj_tasks is 75000)."""
STATUS_FLAGS = ("-xml",)

_PSEUDO_RE = re.compile(r"\$(HOME|USER|JOB_ID|JOB_NAME|HOSTNAME|TASK_ID)")
_TERSE_RE = re.compile(r"^(\d+)(?:\.\d+-\d+:\d+)?$", re.ASCII)
_CHATTY_RE = re.compile(r'^Your job(?:-array)? (\d+)(?:\.\d+-\d+:\d+)? \(".*"\) has been submitted',
                        re.ASCII)
_RANGE_RE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$", re.ASCII)
_UNKNOWN_RE = re.compile(r"job id \S+ not found|do(?:es)? not exist", re.IGNORECASE)
_ID_RE = re.compile(r"^(\d+)", re.ASCII)


# --- script --------------------------------------------------------------------------------


def quote_value(value: str) -> str:
    """``value`` as one word for SGE's directive splitter (blank-separated, ``"`` groups)."""
    if '"' in value or "#" in value:
        raise ResourceError("SGE directive value", value,
                            "a value without '\"' or '#' (SGE strips every double quote from #$ "
                            "lines, and some versions cut a trailing '#' comment)")
    return f'"{value}"' if any(c.isspace() for c in value) or not value else value


def _check_log_dir(job_dir: str) -> None:
    pbs.check_log_dir(job_dir, "SGE")
    m = _PSEUDO_RE.search(job_dir)
    if m:
        raise ResourceError("job_dir", job_dir,
                            f"a path without {m.group(0)} (SGE expands it in -o/-e paths)")


def render_script(spec: JobSpec, paths: JobPaths) -> str:
    """The whole ``qsub`` script: ``#$`` directives for every resource, then the body."""
    _check_log_dir(paths.job_dir)
    r = spec.resources
    extras = pbs.extra_directive_lines("#$", r.extra_directives)
    user_pe = any(line[2:].split()[:1] == ["-pe"] for line in extras)
    if r.nodes > 1 and not user_pe:
        raise ResourceError("nodes", r.nodes, "1 for SGE, or name a parallel environment that "
                            "spans hosts in extra_directives, e.g. '-pe mpi 16'")
    lines = ["#!/bin/bash",
             f"#$ -N {pbs.sanitize_job_name(spec.name, max_len=MAX_JOB_NAME_LEN)}",
             f"#$ -S {SHELL}"]
    if r.cores > 1 and not user_pe:
        lines.append(f"#$ -pe {PARALLEL_ENVIRONMENT} {r.cores}")
    if r.mem_mb is not None:
        lines.append(f"#$ -l {MEMORY_RESOURCE}={math.ceil(r.mem_mb / r.cores)}M")
    if r.time_s is not None:
        lines.append(f"#$ -l h_rt={format_hms(r.time_s)}")
    if r.gpus:
        lines.append(f"#$ -l {GPU_RESOURCE}={r.gpus}")
    if r.queue_name:
        lines.append(f"#$ -q {quote_value(r.queue_name)}")
    if r.account:
        lines.append(f"#$ -P {quote_value(r.account)}")
    lines += pbs.qos_comment(r.qos, "SGE")
    if spec.array is not None:
        lines.append(f"#$ -t 1-{spec.array.size}")
        if spec.array.max_parallel is not None and spec.array.max_parallel < spec.array.size:
            lines.append(f"#$ -tc {spec.array.max_parallel}")
        out = posixpath.join(paths.job_dir, "stdout.$TASK_ID.log")
        err = posixpath.join(paths.job_dir, "stderr.$TASK_ID.log")
    else:
        out, err = paths.stdout(), paths.stderr()
    lines += [f"#$ -o {quote_value(out)}", f"#$ -e {quote_value(err)}"]
    lines += extras
    task_var = TASK_VAR if spec.array is not None else None
    body = render_body(spec, paths, task_var=task_var, task_offset=1)
    return "\n".join(lines) + "\n" + body


def log_paths(paths: JobPaths, task: int | None = None) -> tuple[str, str]:
    """Where SGE writes the logs of the job or of clustrix task ``task`` (SGE task task+1)."""
    if task is None:
        return paths.stdout(), paths.stderr()
    return paths.stdout(int(task) + 1), paths.stderr(int(task) + 1)


# --- submit / cancel / ids -------------------------------------------------------------------


def submit_argv(script_path: str) -> list[str]:
    """``qsub -terse <script>``: prints just the job id."""
    return ["qsub", "-terse", script_path]


def parse_submit(stdout: str) -> JobId:
    """The job number from ``-terse`` (``123``, ``124.1-10:1``) or the chatty message."""
    for line in stdout.splitlines():
        line = line.strip()
        m = _TERSE_RE.match(line) or _CHATTY_RE.match(line)
        if m:
            return m.group(1)
    raise SchedulerOutputError("qsub did not print a job id like '123' or 'Your job 123 (...) "
                               "has been submitted'", text=stdout)


def _base(job_id: JobId) -> str:
    m = _ID_RE.match(job_id or "")
    if not m:
        raise ValueError(f"{job_id!r} is not an SGE job id like '123'")
    return m.group(1)


def task_ids(job_id: JobId, array: ArraySpec) -> list[JobId]:
    """Ids of clustrix tasks 0..n-1: ``123.1`` ... ``123.n`` (SGE tasks are 1-based)."""
    base = _base(job_id)
    return [f"{base}.{i + 1}" for i in range(array.size)]


def cancel_argv(ids: Sequence[JobId]) -> list[str]:
    """``qdel <ids>``; ``123.4`` deletes one task."""
    return ["qdel", *pbs.check_ids(ids, "cancel")]


def is_unknown_job_error(stderr: str) -> bool:
    """True for ``error: job id 123 not found`` (qacct), ``Following jobs do not exist``
    (qstat -j) and ``denied: job "999" does not exist`` (qdel)."""
    return bool(_UNKNOWN_RE.search(stderr or ""))


# --- status (qstat -xml) -------------------------------------------------------------------


def status_argv(ids: Sequence[JobId]) -> list[str]:
    """``qstat -xml``: all the caller's pending and running jobs (no per-id filter exists)."""
    pbs.check_ids(ids, "status")
    return ["qstat", *STATUS_FLAGS]


def expand_tasks(spec: str) -> list[int]:
    """SGE task ranges (``1-10:1``, ``3``, ``1,4-6:1``) as the task numbers they name."""
    tasks: list[int] = []
    for part in spec.split(","):
        m = _RANGE_RE.match(part.strip())
        if not m:
            raise SchedulerOutputError(f"qstat -xml: bad task range {spec!r}", text=spec)
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        step = int(m.group(3)) if m.group(3) else 1
        if step < 1 or last < first or len(tasks) + (last - first) // step >= MAX_EXPANDED_TASKS:
            raise SchedulerOutputError(f"qstat -xml: unusable task range {spec!r}", text=spec)
        tasks.extend(range(first, last + 1, step))
    return tasks


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_status(stdout: str) -> dict[JobId, JobStatus]:
    """Statuses of every job in ``qstat -xml`` output, keyed ``123`` or ``123.<task>``."""
    if not stdout.strip():
        return {}
    if "<!DOCTYPE" in stdout or "<!ENTITY" in stdout:
        raise SchedulerOutputError("qstat -xml output declares a DTD or entities", text=stdout)
    try:
        root = ET.fromstring(stdout)
    except (ET.ParseError, ValueError) as exc:
        raise SchedulerOutputError(f"qstat -xml output is not XML ({exc})", text=stdout) from None
    result: dict[JobId, JobStatus] = {}
    for job in root.iter():
        if _local(job.tag) != "job_list":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in job}
        number, code = fields.get("JB_job_number", ""), fields.get("state", "")
        if not number.isdigit():
            # Nobody's record: its job is "missing" this round, for the poller's rules to handle.
            log.warning("qstat -xml: skipping a job_list without a job number: %r", fields)
            continue
        row = f"job_list {fields!r}"
        try:
            keys = [f"{number}.{t}" for t in expand_tasks(fields["tasks"])] if fields.get("tasks") else [number]
        except SchedulerOutputError as exc:
            log.warning("qstat -xml: skipping job %s, whose task range cannot be read (%s)", number, exc)
            continue
        status = (status_from_code(number, code) if code
                  else JobStatus.unreadable(row, "qstat -xml: the job_list has no state"))
        result.update(dict.fromkeys(keys, status))
    return result


# --- accounting (qacct -j) -----------------------------------------------------------------


def accounting_argv(job_id: JobId) -> list[str]:
    """``qacct -j <job number>``: one record per run (one per task for arrays)."""
    return ["qacct", "-j", _base(job_id)]


def parse_accounting_records(stdout: str) -> list[dict[str, str]]:
    """The ``key value`` records of qacct output, split at its ``=====`` lines."""
    records: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in stdout.splitlines():
        if line.strip() and set(line.strip()) == {"="}:
            current = {}
            records.append(current)
            continue
        if not line.strip():
            continue
        if current is None:
            raise SchedulerOutputError("qacct output does not start with a '=====' line",
                                       text=stdout)
        key, _, value = line.strip().partition(" ")
        current[key] = value.strip()
    return records


def parse_accounting(stdout: str) -> dict[JobId, JobStatus]:
    """Final statuses from ``qacct -j`` output, keyed ``123`` or ``123.<task>``.

    When a job number appears in several records (a rerun, or an id reused after wrap-around)
    the last one, the newest in the accounting file, wins.
    """
    result: dict[JobId, JobStatus] = {}
    for record in parse_accounting_records(stdout):
        number = record.get("jobnumber", "")
        if not number.isdigit():
            raise SchedulerOutputError("qacct record without a numeric jobnumber", text=stdout)
        task = record.get("taskid", "undefined")
        key = f"{number}.{task}" if task.isdigit() else number
        result[key] = status_from_accounting(record)
    return result


def task_times_argvs(ids: Sequence[JobId]) -> list[list[str]]:
    """One ``qacct -j <job number>`` per job: qacct takes one job at a time."""
    pbs.check_ids(ids, "qacct")
    return [accounting_argv(job_id) for job_id in dict.fromkeys(_base(i) for i in ids)]


def parse_task_times(stdout: str) -> dict[JobId, TaskTimes]:
    """``{123 or 123.<task>: TaskTimes}`` from ``qacct -j`` (qsub_time, start_time, end_time).

    Only finished tasks have a record (pending and running ones are in ``qstat``, without an
    end); the last record of a task wins, as in :func:`parse_accounting`.
    """
    out: dict[JobId, TaskTimes] = {}
    for record in parse_accounting_records(stdout):
        number = record.get("jobnumber", "")
        if not number.isdigit():
            raise SchedulerOutputError("qacct record without a numeric jobnumber", text=stdout)
        task = record.get("taskid", "undefined")
        key = f"{number}.{task}" if task.isdigit() else number
        try:
            out[key] = TaskTimes(status_from_accounting(record), queued=ctime_local(record.get("qsub_time", "")),
                                 started=ctime_local(record.get("start_time", "")),
                                 ended=ctime_local(record.get("end_time", "")))
        except SchedulerOutputError as exc:
            out[key] = TaskTimes(JobStatus.unreadable(f"qacct record {record!r}", exc), None, None, None)
    return out


FALLBACK_STATUS = None
ACCOUNTING = Accounting(argv=accounting_argv, parse=parse_accounting)
"""``qstat`` forgets a job the moment it ends; ``qacct -j`` tells how it ended."""
TAGGED_SUBMIT = None
"""No tag survives into the batched status output without replacing the user's job name
(``-N``), so an ambiguous submit failure is retried as before (see the launcher)."""
TASK_TIMES = TaskTimesQuery(
    argvs=task_times_argvs, parse=parse_task_times, is_unavailable=is_unknown_job_error,
    retention="qacct reads the accounting file: every finished task, from a few seconds after it "
              "ends until the file is rotated; pending and running tasks have no record")
"""``qacct -j``: qsub_time/start_time/end_time per finished task."""
