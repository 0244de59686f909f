"""How the scheduler-neutral parts of the simulator reach a scheduler's front end: by module name.

A front end is the package ``clustrix_sim.<scheduler>`` (``slurm``, ``pbs``...), or a dialect
nested in the folder of the front end whose formats it shares (``clustrix_sim.pbs.torque``: Torque
reuses PBS Pro's commands, so it lives in their room and may import them). The engine and the controller never import one directly; they look it up here
from the cluster's ``flavor``, so adding a scheduler means adding its folder, nothing else. The
contract, module by module:

``clustrix_sim.<scheduler>.tools`` (:class:`ToolTable`)
    ``TOOLS``: command name -> ``callable(argv) -> exit code`` (argv without the program name),
    one entry per executable written into the cluster's ``bin/``; ``UNREACHABLE``: command name
    -> the line the real command prints when its controller is down. It must import nothing
    heavy: every command invocation imports it.
``clustrix_sim.<scheduler>.<command>``
    one module per command, named like it; the tool server imports them all up front.
``clustrix_sim.<scheduler>.jobenv`` (:class:`JobEnvironment`)
    ``output_paths(record) -> (stdout, stderr)`` and ``job_env(record, cluster_name) -> dict``:
    where a starting job's output goes and the environment it sees (``SLURM_JOB_ID``...);
    optionally ``job_files(record) -> {ENV_VAR: text}``: files the engine writes into the job's
    spool directory before it starts, their paths given in those variables (``PBS_NODEFILE``).

Optional in ``tools``: ``SERVER`` (the controller host name the tools print, e.g. ``pbs-server``)
and ``DEFAULT_QUEUE`` (the default partition/queue name of a new cluster); :func:`site_defaults`.

``pytest_clustrix.choice`` relies on :func:`installed` too: a ``<scheduler>-sim`` backend is
offered when the front end's folder holds a ``tools.py``, without importing it.

May import: the standard library only (every tool invocation may load this module).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Protocol, cast

__all__ = ["JobEnvironment", "ToolTable", "installed", "job_environment", "module_name", "site_defaults",
           "tool_table"]

PACKAGE = "clustrix_sim"


class ToolTable(Protocol):
    """``clustrix_sim.<scheduler>.tools``."""

    TOOLS: Mapping[str, Callable[[list[str]], int]]
    UNREACHABLE: Mapping[str, str]


class JobEnvironment(Protocol):
    """``clustrix_sim.<scheduler>.jobenv`` (records are ``clustrix_sim.engine.model.JobRecord``)."""

    def output_paths(self, record: object) -> tuple[str, str]: ...

    def job_env(self, record: object, cluster_name: str) -> dict[str, str]: ...


def module_name(scheduler: str, part: str) -> str:
    """``clustrix_sim.<scheduler>.<part>`` (or ``clustrix_sim.<family>.<scheduler>.<part>`` for a
    nested dialect), refusing names that would leave the package."""
    if not scheduler.isidentifier():
        raise ValueError(f"scheduler {scheduler!r} is not a front-end name (slurm, pbs, sge...)")
    return f"{PACKAGE}.{_locations().get(scheduler, scheduler)}.{part}"


def _locations() -> dict[str, str]:
    """Front-end name -> dotted path below the package: ``slurm`` -> ``slurm``, ``torque`` ->
    ``pbs.torque`` (found on disk: a folder, or a folder inside one, holding a ``tools.py``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    found: dict[str, str] = {}
    for name in sorted(os.listdir(here)):
        folder = os.path.join(here, name)
        if not name.isidentifier() or not os.path.isfile(os.path.join(folder, "tools.py")):
            continue
        found.setdefault(name, name)
        for inner in sorted(os.listdir(folder)):
            if inner.isidentifier() and os.path.isfile(os.path.join(folder, inner, "tools.py")):
                found.setdefault(inner, f"{name}.{inner}")
    return found


def tool_table(scheduler: str) -> ToolTable:
    """The scheduler's command table; ImportError when it has no front end."""
    return cast(ToolTable, importlib.import_module(module_name(scheduler, "tools")))


def job_environment(scheduler: str) -> JobEnvironment:
    """What a starting job of this scheduler sees; ImportError when it has no front end."""
    return cast(JobEnvironment, importlib.import_module(module_name(scheduler, "jobenv")))


def installed() -> tuple[str, ...]:
    """Schedulers with a front end in this installation: the folders beside this module (and the
    dialects inside them) that hold a ``tools.py`` (looked up on disk: importing a sibling package
    could be expensive)."""
    return tuple(sorted(_locations()))


def site_defaults(scheduler: str) -> tuple[str, str]:
    """(server host name, default queue) a new cluster of this scheduler gets: the front end's
    ``SERVER`` and ``DEFAULT_QUEUE``, else SLURM's ``slurmctld`` and ``normal``."""
    table = tool_table(scheduler)
    return str(getattr(table, "SERVER", "slurmctld")), str(getattr(table, "DEFAULT_QUEUE", "normal"))
