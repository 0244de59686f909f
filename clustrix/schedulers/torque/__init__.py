"""Torque (PBS classic): batch scripts for ``qsub -t``, and parsers for the text ``qstat -f``.

This package is the scheduler module: it satisfies
:class:`clustrix.schedulers.contract.SchedulerModule`, and the code lives in its submodules
(``states`` holds the state table as data). Pure: no I/O, no clock (see :mod:`clustrix.schedulers`).
"""

from __future__ import annotations

from clustrix.schedulers.torque.commands import (
    ACCOUNTING,
    FALLBACK_STATUS,
    NAME,
    SHELL,
    STATUS_FLAGS,
    TAGGED_SUBMIT,
    TASK_TIMES,
    TASK_VAR,
    TIME_GRANULARITY_S,
    cancel_argv,
    is_unknown_job_error,
    log_paths,
    parse_status,
    parse_submit,
    parse_task_times,
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
    "NAME",
    "TIME_GRANULARITY_S",
    "SHELL",
    "STATUS_FLAGS",
    "TASK_VAR",
    "cancel_argv",
    "is_unknown_job_error",
    "log_paths",
    "parse_status",
    "parse_submit",
    "parse_task_times",
    "render_script",
    "status_argv",
    "submit_argv",
    "task_ids",
    "task_times_argvs",
]
