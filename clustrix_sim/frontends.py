"""How the scheduler-neutral parts of the simulator reach a scheduler's front end: by module name.

A front end is the package ``clustrix_sim.<scheduler>`` (``slurm`` today; ``pbs`` and ``sge``
beside it later). The engine and the controller never import one directly; they look it up here
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
    where a starting job's output goes and the environment it sees (``SLURM_JOB_ID``...).

``pytest_clustrix.choice`` relies on the first module too: a ``<scheduler>-sim`` backend is
offered when ``importlib.util.find_spec("clustrix_sim.<scheduler>.tools")`` finds it, without
importing it.

May import: the standard library only (every tool invocation may load this module).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Protocol, cast

__all__ = ["JobEnvironment", "ToolTable", "installed", "job_environment", "module_name", "tool_table"]

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
    """``clustrix_sim.<scheduler>.<part>``, refusing names that would leave the package."""
    if not scheduler.isidentifier():
        raise ValueError(f"scheduler {scheduler!r} is not a front-end name (slurm, pbs, sge...)")
    return f"{PACKAGE}.{scheduler}.{part}"


def tool_table(scheduler: str) -> ToolTable:
    """The scheduler's command table; ImportError when it has no front end."""
    return cast(ToolTable, importlib.import_module(module_name(scheduler, "tools")))


def job_environment(scheduler: str) -> JobEnvironment:
    """What a starting job of this scheduler sees; ImportError when it has no front end."""
    return cast(JobEnvironment, importlib.import_module(module_name(scheduler, "jobenv")))


def installed() -> tuple[str, ...]:
    """Schedulers with a front end in this installation: the folders beside this module that hold
    a ``tools.py`` (looked up on disk: importing a sibling package could be expensive)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return tuple(sorted(name for name in os.listdir(here)
                        if name.isidentifier() and os.path.isfile(os.path.join(here, name, "tools.py"))))
