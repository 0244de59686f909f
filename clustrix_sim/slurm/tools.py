"""The SLURM command registry: ``TOOLS[name](argv) -> exit code``.

Each entry imports its module only when called, so running one tool (a fresh process per
command) never pays for the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["TOOLS"]

_NAMES = ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo", "srun")


def _lazy(name: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        module = importlib.import_module(f"clustrix_sim.slurm.{name}")
        return int(module.main(list(argv)))

    run.__name__ = name
    run.__doc__ = f"Run the simulated ``{name}`` with argv (program name excluded)."
    return run


TOOLS: dict[str, Callable[[list[str]], int]] = {name: _lazy(name) for name in _NAMES}
