"""Grid Engine (SGE/SoGE): batch scripts for ``qsub``, and parsers for ``qstat -xml`` and ``qacct -j``.

This package is the scheduler module: it satisfies
:class:`clustrix.schedulers.contract.SchedulerModule`, and the code lives in its submodules
(``states`` holds the state table as data). Pure: no I/O, no clock (see :mod:`clustrix.schedulers`).
"""

from __future__ import annotations

from clustrix.schedulers.sge.commands import (
    ACCOUNTING,
    FALLBACK_STATUS,
    GPU_RESOURCE,
    MAX_EXPANDED_TASKS,
    MAX_JOB_NAME_LEN,
    MEMORY_RESOURCE,
    NAME,
    PARALLEL_ENVIRONMENT,
    SHELL,
    STATUS_FLAGS,
    TAGGED_SUBMIT,
    TASK_TIMES,
    TASK_VAR,
    TIME_GRANULARITY_S,
    accounting_argv,
    cancel_argv,
    expand_tasks,
    is_unknown_job_error,
    log_paths,
    parse_accounting,
    parse_accounting_records,
    parse_status,
    parse_submit,
    parse_task_times,
    quote_value,
    render_script,
    status_argv,
    submit_argv,
    task_ids,
    task_times_argvs,
)

__all__ = [
    "ACCOUNTING",
    "FALLBACK_STATUS",
    "TAGGED_SUBMIT",
    "TASK_TIMES",
    "GPU_RESOURCE",
    "MAX_EXPANDED_TASKS",
    "MAX_JOB_NAME_LEN",
    "MEMORY_RESOURCE",
    "NAME",
    "TIME_GRANULARITY_S",
    "PARALLEL_ENVIRONMENT",
    "SHELL",
    "STATUS_FLAGS",
    "TASK_VAR",
    "accounting_argv",
    "cancel_argv",
    "expand_tasks",
    "is_unknown_job_error",
    "log_paths",
    "parse_accounting",
    "parse_accounting_records",
    "parse_status",
    "parse_submit",
    "parse_task_times",
    "quote_value",
    "render_script",
    "status_argv",
    "submit_argv",
    "task_ids",
    "task_times_argvs",
]
