"""PBS Pro (OpenPBS): batch scripts for ``qsub``, and parsers for ``qsub`` and ``qstat -f -F json``.

This package is the scheduler module: it satisfies
:class:`clustrix.schedulers.contract.SchedulerModule`, and the code lives in its submodules
(``states`` holds the state table as data). Pure: no I/O, no clock (see :mod:`clustrix.schedulers`).
"""

from __future__ import annotations

from clustrix.schedulers.pbs.commands import (
    ACCOUNTING,
    ARRAY_INDEX_TOKEN,
    FALLBACK_STATUS,
    FALLBACK_STATUS_FLAGS,
    MAX_JOB_NAME_LEN,
    NAME,
    SHELL,
    STATUS_FLAGS,
    TAGGED_SUBMIT,
    TASK_VAR,
    TIME_GRANULARITY_S,
    cancel_argv,
    check_ids,
    check_log_dir,
    extra_directive_lines,
    fallback_status_argv,
    is_accounting_unavailable,
    is_unknown_job_error,
    load_qstat_json,
    log_paths,
    parse_fallback_status,
    parse_status,
    parse_submit,
    qos_comment,
    quote_value,
    render_script,
    sanitize_job_name,
    status_argv,
    submit_argv,
    task_ids,
)

__all__ = [
    "ACCOUNTING",
    "ARRAY_INDEX_TOKEN",
    "FALLBACK_STATUS",
    "TAGGED_SUBMIT",
    "FALLBACK_STATUS_FLAGS",
    "MAX_JOB_NAME_LEN",
    "NAME",
    "TIME_GRANULARITY_S",
    "SHELL",
    "STATUS_FLAGS",
    "TASK_VAR",
    "cancel_argv",
    "check_ids",
    "check_log_dir",
    "extra_directive_lines",
    "fallback_status_argv",
    "is_accounting_unavailable",
    "is_unknown_job_error",
    "load_qstat_json",
    "log_paths",
    "parse_fallback_status",
    "parse_status",
    "parse_submit",
    "qos_comment",
    "quote_value",
    "render_script",
    "sanitize_job_name",
    "status_argv",
    "submit_argv",
    "task_ids",
]
