"""The ``<scheduler>-docker`` backends of a test session: one container per session (per xdist
worker), started on first use.

Functions of the project under test that travel by reference (module-level functions) must be
importable in the container, as on a real cluster where the project is installed. The session's
own import roots (``sys.path`` entries that are plain directories outside the interpreter's
prefixes, e.g. the project checkout or a ``pythonpath`` ini entry) are mounted read-only at the
same paths and put on the jobs' ``PYTHONPATH``; directories holding clustrix itself are left
out, because the image has its own copy, installed from the wheel.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def project_paths() -> list[str]:
    """The session's import roots that a job in the container needs (see the module docstring)."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    found: list[str] = []
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        path = os.path.realpath(entry)
        if any(path == p or path.startswith(p + os.sep) for p in prefixes):
            continue
        if "site-packages" in path.split(os.sep) or "dist-packages" in path.split(os.sep):
            continue
        if os.path.exists(os.path.join(path, "clustrix", "__init__.py")):
            continue
        if path not in found:
            found.append(path)
    return found


def start_container(scheduler: str) -> Any:
    """Start the session's container for ``scheduler`` (real Slurm/SGE, else the simulator)."""
    from clustrix_sim.containers import DockerCluster

    return DockerCluster(scheduler, mounts={p: p for p in project_paths()}).start()
