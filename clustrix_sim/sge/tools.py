"""The Grid Engine command table: ``TOOLS[name](argv) -> exit code``, and what each prints when
the qmaster is down (``UNREACHABLE``); the contract is :mod:`clustrix_sim.frontends`'.

Each entry imports its module only when called, so running one tool never pays for the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["DEFAULT_QUEUE", "QUEUE_ACCEPTS_UNSATISFIABLE", "TOOLS", "UNREACHABLE"]

DEFAULT_QUEUE = "all.q"
QUEUE_ACCEPTS_UNSATISFIABLE = True
"""Real all.q takes a job no host can run and leaves it waiting (qw) forever."""
"""The queue a cluster of this scheduler gets when none is configured (SimCluster reads it)."""

_MODULES = {"qsub": "qsub", "qstat": "qstat", "qdel": "qdel", "qhold": "qhold", "qrls": "qrls",
            "qacct": "qacct", "qhost": "qhost"}


def _lazy(name: str, module_name: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        module = importlib.import_module(f"clustrix_sim.sge.{module_name}")
        entry = getattr(module, f"{name}_main", None) or module.main
        return int(entry(list(argv)))

    run.__name__ = name
    run.__doc__ = f"Run the simulated ``{name}`` with argv (program name excluded)."
    return run


TOOLS: dict[str, Callable[[list[str]], int]] = {name: _lazy(name, mod) for name, mod in _MODULES.items()}

_DOWN = ("error: commlib error: got select error (Connection refused)\n"
         'error: unable to send message to qmaster using port 6444 on host "localhost": got send error')
UNREACHABLE: dict[str, str] = {name: _DOWN for name in _MODULES}
UNREACHABLE["qsub"] = ("error: commlib error: got select error (Connection refused)\n"
                       'Unable to run job: unable to send message to qmaster using port 6444 on host '
                       '"localhost": got send error\nExiting.')
"""What each tool prints (on stderr, exit 1) when the qmaster cannot be reached."""
