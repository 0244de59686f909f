"""Torque (PBS classic): batch script, argv and output parsing (pure, no I/O).

Torque shares PBS Pro's ``qsub``/``qdel`` and ``qstat -f`` text layout but differs where it
matters (Torque 6 source and admin guide):

* resources are ``-l nodes=<N>:ppn=<C>[:gpus=<G>]`` and ``-l mem=`` (**total** job memory, so
  clustrix's per-node ``mem_mb`` is multiplied by the node count); ``-l select`` is not supported;
* arrays are ``-t 0-N[%k]``, the task index is ``PBS_ARRAYID``, ids ``123[].srv`` / ``123[4].srv``;
* there is no ``-F json`` (and ``qstat -x`` means XML), so status is the text ``qstat -f -t <ids>``
  whose continuation lines (TAB-indented) are joined; a finished job is ``job_state = C`` with
  ``exit_status`` (lower case) until ``keep_completed`` expires, after which qstat says
  ``Unknown Job Id``, and ``qdel`` of a completed job ``Request invalid for state of job``
  (:func:`is_unknown_job_error`);
* ``job_clone`` appends ``-<index>`` to each subjob's Output_Path/Error_Path, so with
  ``-o <job_dir>/stdout.log`` task *i* writes ``stdout.log-i``, not JobPaths' ``stdout.i.log``;
  :func:`log_paths` says where the logs really are. A one-task array is submitted as a plain job
  whose script sets ``PBS_ARRAYID=0`` and whose logs get task 0's names, because Torque before
  2.3 read ``-t N`` as a task *count* and a ``0-0`` range is not portable.

Directive quoting and job names follow :mod:`clustrix.schedulers.pbs.commands` (Torque's qsub splits
directive lines the same way; its ``check_job_name`` accepts printable names up to 256
characters, a superset of what :func:`pbs.sanitize_job_name` produces).
"""

from __future__ import annotations

from collections.abc import Sequence

from clustrix.schedulers.contract import TaskTimes, TaskTimesQuery
from clustrix.schedulers.pbs import commands as pbs
from clustrix.schedulers.pbs.qstat_text import parse_qstat_full
from clustrix.schedulers.pbs.states import TORQUE_EXEC_CODES, TORQUE_STATES, status_from_attrs
from clustrix.schedulers.pbs.times import read_records, times_from_attrs
from clustrix.schedulers.rows import each_record
from clustrix.schedulers.script import render_body
from clustrix.spec import JobPaths, JobSpec, format_hms
from clustrix.states import JobId, JobStatus

NAME = "torque"
TIME_GRANULARITY_S = 60
"""Torque's MOM checks walltime once a minute (its default ``$check_poll_time``)."""
SHELL = pbs.SHELL
TASK_VAR = "PBS_ARRAYID"
STATUS_FLAGS = ("-f", "-t")
"""``qstat`` flags of the pinned status format: full text, arrays expanded."""

# Same grammar as PBS Pro for these.
submit_argv = pbs.submit_argv
parse_submit = pbs.parse_submit
cancel_argv = pbs.cancel_argv
task_ids = pbs.task_ids


def is_unknown_job_error(stderr: str) -> bool:
    """True when qstat/qdel said the job is unknown or already gone from the server.

    Besides PBS's messages, Torque's ``qdel`` of a job that has completed (``job_state = C``,
    kept for ``keep_completed``) answers ``Request invalid for state of job`` (exit 168): to a
    cancel that races the job's end, the job is as good as gone, and its outcome comes from
    polling as for any finished job.
    """
    return pbs.is_unknown_job_error(stderr) or "Request invalid for state of job" in (stderr or "")

FALLBACK_STATUS = None
"""Torque has one status format (text ``qstat -f``) and nothing to fall back to."""
ACCOUNTING = None


def render_script(spec: JobSpec, paths: JobPaths) -> str:
    """The whole ``qsub`` script: ``#PBS`` directives in Torque's dialect, then the body."""
    pbs.check_log_dir(paths.job_dir, "Torque")
    r = spec.resources
    lines = ["#!/bin/bash", f"#PBS -N {pbs.sanitize_job_name(spec.name)}", f"#PBS -S {SHELL}"]
    nodes = f"{r.nodes}:ppn={r.cores}"
    if r.gpus:
        nodes += f":gpus={r.gpus}"
    lines.append(f"#PBS -l nodes={nodes}")
    if r.mem_mb is not None:
        lines.append(f"#PBS -l mem={r.mem_mb * r.nodes}mb")
    if r.time_s is not None:
        lines.append(f"#PBS -l walltime={format_hms(r.time_s)}")
    if r.queue_name:
        lines.append(f"#PBS -q {pbs.quote_value(r.queue_name)}")
    if r.account:
        lines.append(f"#PBS -A {pbs.quote_value(r.account)}")
    lines += pbs.qos_comment(r.qos, "Torque")
    array = spec.array
    preamble: list[str] = []
    if array is not None and array.size > 1:
        span = f"0-{array.last_index}"
        if array.max_parallel is not None and array.max_parallel < array.size:
            span += f"%{array.max_parallel}"
        lines.append(f"#PBS -t {span}")
        # Torque appends "-<index>" to these for every subjob (see log_paths).
        out, err = paths.stdout(), paths.stderr()
    elif array is not None:
        out, err = log_paths(paths, 0)
        preamble = ["# one-task array: submitted as a plain job that is task 0", f"{TASK_VAR}=0"]
    else:
        out, err = paths.stdout(), paths.stderr()
    lines += [f"#PBS -o {pbs.quote_value(out)}", f"#PBS -e {pbs.quote_value(err)}"]
    lines += pbs.extra_directive_lines("#PBS", r.extra_directives)
    lines += preamble
    task_var = TASK_VAR if array is not None else None
    return "\n".join(lines) + "\n" + render_body(spec, paths, task_var=task_var)


def log_paths(paths: JobPaths, task: int | None = None) -> tuple[str, str]:
    """Where Torque writes the stdout/stderr of the job, or of array task ``task``.

    Torque names a subjob's files ``<Output_Path>-<index>``: ``<job_dir>/stdout.log-3``.
    """
    if task is None:
        return paths.stdout(), paths.stderr()
    return f"{paths.stdout()}-{int(task)}", f"{paths.stderr()}-{int(task)}"


def status_argv(ids: Sequence[JobId]) -> list[str]:
    """One ``qstat -f -t`` for all ids (Torque has no JSON output)."""
    return ["qstat", *STATUS_FLAGS, *pbs.check_ids(ids, "status")]


def parse_status(stdout: str) -> dict[JobId, JobStatus]:
    """Statuses from text ``qstat -f`` output (continuation lines joined); a finished job is
    ``job_state = C`` with its ``exit_status``."""
    return each_record(
        parse_qstat_full(stdout).items(),
        lambda job_id, attrs: status_from_attrs(job_id, attrs, states=TORQUE_STATES,  # type: ignore[arg-type]
                                                exec_codes=TORQUE_EXEC_CODES, exit_key="exit_status"),
        pbs.describe_record)
TAGGED_SUBMIT = None
"""No tag survives into the batched status output without replacing the user's job name
(``-N``), so an ambiguous submit failure is retried as before (see the launcher)."""


# --- times, for timelines --------------------------------------------------------------------


def task_times_argvs(ids: Sequence[JobId]) -> list[list[str]]:
    """The status command itself: ``qstat -f -t`` prints qtime/start_time/comp_time."""
    return [status_argv(ids)]


def parse_task_times(stdout: str) -> dict[JobId, TaskTimes]:
    """``{job or subjob id: TaskTimes}`` from text ``qstat -f -t`` output."""
    return read_records(
        parse_qstat_full(stdout),
        lambda job_id, attrs: times_from_attrs(job_id, attrs, states=TORQUE_STATES,
                                               exec_codes=TORQUE_EXEC_CODES, exit_key="exit_status"))


TASK_TIMES = TaskTimesQuery(
    argvs=task_times_argvs, parse=parse_task_times, is_unavailable=is_unknown_job_error,
    retention="Torque's qstat forgets a finished job once keep_completed seconds have passed "
              "(often minutes); older jobs have no scheduler times")
"""``qtime``/``start_time``/``comp_time`` per subjob, while qstat still shows the job."""
