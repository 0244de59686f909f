"""Pure scheduler modules: one per batch system, no I/O at all.

Each module (``slurm``, ``pbs``, ``torque``-via-``pbs``, ``sge``) provides the same functions, in the
sans-I/O style: they turn values into text and argv lists, and text back into values. They never
run a subprocess, open a socket or file, or read the clock; ``tests/clustrix/test_scheduler_purity.py``
walks their imports to enforce it. Transports run the argv they build.

The contract every module implements::

    NAME: str                                             # "slurm", "pbs", "torque", "sge"
    render_script(spec: JobSpec, paths: JobPaths) -> str  # the whole batch script
    submit_argv(script_path: str) -> list[str]
    parse_submit(stdout: str) -> JobId                    # raises SchedulerOutputError
    status_argv(ids: Sequence[JobId]) -> list[str]        # ONE batched command for all ids
    parse_status(stdout: str) -> dict[JobId, JobStatus]   # raises SchedulerOutputError
    cancel_argv(ids: Sequence[JobId]) -> list[str]
    task_ids(job_id: JobId, array: ArraySpec) -> list[JobId]   # the id of each array task

Optional fallbacks (a module may have a second status source, e.g. SLURM's ``squeue`` when
accounting is disabled)::

    fallback_status_argv(ids) -> list[str]
    parse_fallback_status(stdout) -> dict[JobId, JobStatus]
    is_accounting_unavailable(stderr: str) -> bool

An unknown state code maps to ``JobState.UNKNOWN`` with a logged warning, never a KeyError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from clustrix.errors import ConfigError

SCHEDULERS = ("slurm", "pbs", "torque", "sge")


def get(name: str) -> ModuleType:
    """The scheduler module for a backend name (``torque`` is PBS with Torque's flavour)."""
    if name not in SCHEDULERS:
        raise ConfigError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}", key="backend")
    return importlib.import_module(f"clustrix.schedulers.{name}")
