"""The Torque command table (see :mod:`clustrix_sim.pbs.tools`): PBS's commands, Torque's
dialect, Torque's site defaults and connection errors."""

from __future__ import annotations

from collections.abc import Callable

from clustrix_sim.pbs.tools import NAMES, lazy

__all__ = ["DEFAULT_QUEUE", "SERVER", "TOOLS", "UNREACHABLE"]

SERVER = "torque-server"
DEFAULT_QUEUE = "batch"

TOOLS: dict[str, Callable[[list[str]], int]] = {name: lazy(name, "TORQUE") for name in NAMES}

UNREACHABLE: dict[str, str] = {
    name: f"{name}: cannot connect to server {SERVER} (errno=111) Connection refused"
    for name in NAMES if name != "tracejob"
}
