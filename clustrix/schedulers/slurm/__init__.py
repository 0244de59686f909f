"""SLURM: batch scripts for ``sbatch``, and parsers for ``sbatch --parsable``, ``sacct --parsable2``
and ``squeue``; ``times`` reads per-task Submit/Start/End for timelines.

This package is the scheduler module: it satisfies
:class:`clustrix.schedulers.contract.SchedulerModule`, and the code lives in its submodules
(``states`` holds the state table as data). Pure: no I/O, no clock (see :mod:`clustrix.schedulers`).
"""

from __future__ import annotations

from clustrix.schedulers.slurm.commands import (
    ACCOUNTING,
    FALLBACK_STATUS,
    MAX_EXPANDED_TASKS,
    NAME,
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    TIME_GRANULARITY_S,
    cancel_argv,
    fallback_status_argv,
    is_accounting_unavailable,
    is_unknown_job_error,
    parse_fallback_status,
    parse_status,
    parse_submit,
    status_argv,
    submit_argv,
    task_ids,
)
from clustrix.schedulers.slurm.lookup import (
    LOOKUP_FORMAT,
    TAGGED_SUBMIT,
    lookup_argv,
    parse_lookup,
    tagged_submit_argv,
)
from clustrix.schedulers.slurm.script import (
    filename_pattern,
    log_paths,
    quote_directive_value,
    render_script,
    slurm_time,
)
from clustrix.schedulers.slurm.times import (
    TASK_TIMES,
    TIMES_FIELDS,
    parse_task_times,
    task_times_argvs,
)

__all__ = [
    "ACCOUNTING",
    "FALLBACK_STATUS",
    "LOOKUP_FORMAT",
    "MAX_EXPANDED_TASKS",
    "NAME",
    "TIME_GRANULARITY_S",
    "SACCT_FIELDS",
    "SQUEUE_FORMAT",
    "TAGGED_SUBMIT",
    "TASK_TIMES",
    "TIMES_FIELDS",
    "cancel_argv",
    "fallback_status_argv",
    "filename_pattern",
    "is_accounting_unavailable",
    "is_unknown_job_error",
    "log_paths",
    "lookup_argv",
    "parse_fallback_status",
    "parse_lookup",
    "parse_status",
    "parse_submit",
    "parse_task_times",
    "quote_directive_value",
    "render_script",
    "slurm_time",
    "status_argv",
    "submit_argv",
    "tagged_submit_argv",
    "task_times_argvs",
    "task_ids",
]
