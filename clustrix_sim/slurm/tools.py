"""The SLURM command table: ``TOOLS[name](argv) -> exit code``, and what each prints when the
controller is down (``UNREACHABLE``); the contract is :mod:`clustrix_sim.frontends`'.

Each entry imports its module only when called, so running one tool (a fresh process per
command) never pays for the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["TOOLS", "UNREACHABLE"]

_NAMES = ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo", "srun")


def _lazy(name: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        module = importlib.import_module(f"clustrix_sim.slurm.{name}")
        return int(module.main(list(argv)))

    run.__name__ = name
    run.__doc__ = f"Run the simulated ``{name}`` with argv (program name excluded)."
    return run


TOOLS: dict[str, Callable[[list[str]], int]] = {name: _lazy(name) for name in _NAMES}

_UNREACHABLE = "Unable to contact slurm controller (connect failure)"
UNREACHABLE: dict[str, str] = {
    "sbatch": f"sbatch: error: Batch job submission failed: {_UNREACHABLE}",
    "squeue": f"slurm_load_jobs error: {_UNREACHABLE}",
    "scontrol": f"slurm_load_jobs error: {_UNREACHABLE}",
    "sinfo": f"slurm_load_partitions: {_UNREACHABLE}",
    "scancel": f"scancel: error: {_UNREACHABLE}",
    "srun": f"srun: error: Unable to allocate resources: {_UNREACHABLE}",
    "sacct": ("sacct: error: slurm_persist_conn_open_without_init: failed to open persistent connection "
              "to host:localhost:6819: Connection refused\n"
              "sacct: error: Problem talking to the database: Connection refused"),
}
"""What each tool prints (on stderr, exit 1) when slurmctld/slurmdbd cannot be reached."""
