"""Pure scheduler modules: one folder per batch system, no I/O at all.

Each of ``slurm/``, ``pbs/`` (PBS Pro), ``torque/`` (beside PBS, sharing its submit grammar) and
``sge/`` is a package that satisfies :class:`~clustrix.schedulers.contract.SchedulerModule`, in the
sans-I/O style: functions turn values into script text and argv lists, and text back into values.
They never run a subprocess, open a socket or file, or read the clock;
``tests/clustrix/schedulers/test_purity.py`` walks their imports (transitively) to enforce it.
Transports run the argv they build. ``script.py`` is the job body every scheduler's script ends
with; ``contract.py`` is the protocol and its optional parts (a fallback status command,
per-job accounting).

May import only :mod:`clustrix.errors`, :mod:`clustrix.spec` and :mod:`clustrix.states`.
An unknown state code maps to ``JobState.UNKNOWN`` with a logged warning, never a KeyError.
"""

from __future__ import annotations

import importlib
from typing import cast

from clustrix.errors import ConfigError
from clustrix.schedulers.contract import SchedulerModule

SCHEDULERS = ("slurm", "pbs", "torque", "sge")


def get(name: str) -> SchedulerModule:
    """The scheduler module for a backend name."""
    if name not in SCHEDULERS:
        raise ConfigError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}", key="backend")
    return cast(SchedulerModule, importlib.import_module(f"clustrix.schedulers.{name}"))
