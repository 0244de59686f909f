"""The PBS Professional command table: ``TOOLS[name](argv) -> exit code``, what each prints
when the server is down (``UNREACHABLE``), and the site defaults a new cluster gets
(``SERVER``, ``DEFAULT_QUEUE``); the contract is :mod:`clustrix_sim.frontends`'.

Each entry imports its module only when called: one tool per process pays for itself only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["DEFAULT_QUEUE", "NAMES", "SERVER", "TOOLS", "UNREACHABLE", "lazy"]

NAMES = ("qsub", "qstat", "qdel", "qhold", "qrls", "qsig", "pbsnodes", "tracejob")
SERVER = "pbs-server"
DEFAULT_QUEUE = "workq"


def lazy(name: str, dialect_name: str) -> Callable[[list[str]], int]:
    """``clustrix_sim.pbs.<name>.main`` run with the named dialect (``PBSPRO``/``TORQUE``)."""

    def run(argv: list[str]) -> int:
        module = importlib.import_module(f"clustrix_sim.pbs.{name}")
        dialect = getattr(importlib.import_module("clustrix_sim.pbs.dialect"), dialect_name)
        return int(module.main(list(argv), dialect))

    run.__name__ = name
    run.__doc__ = f"Run the simulated ``{name}`` with argv (program name excluded)."
    return run


TOOLS: dict[str, Callable[[list[str]], int]] = {name: lazy(name, "PBSPRO") for name in NAMES}

UNREACHABLE: dict[str, str] = {
    name: f"{name}: cannot connect to server {SERVER} (errno=15010)" for name in NAMES if name != "tracejob"
}
"""What each tool prints (stderr) when the server is down: ``pbs_connect`` fails with
PBSE_NOSERVER (15010)."""
