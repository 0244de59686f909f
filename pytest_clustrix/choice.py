"""Which backend a test session runs on, and where that choice came from.

Pure parsing, no clustrix import: this runs for every pytest start of every project that has
clustrix installed, so it must cost nothing.

Grammar of a backend value::

    local | debug                      in-process / process pool on this machine
    <scheduler>-sim                    the embedded simulator over SSH on loopback

    <scheduler>-docker                 a cluster in a Docker container behind OpenSSH: the REAL
                                       scheduler where Debian packages one (slurm, sge), else the
                                       simulator (offered once its front end exists, e.g. pbs)
    profile:<NAME>                     a profile from the user's clustrix config (a real cluster)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV_VAR = "CLUSTRIX_BACKEND"
INI_KEY = "clustrix_backend"
OPTION = "--clustrix-backend"
DEFAULT = "local"

PLAIN = ("local", "debug")
SIM_SCHEDULERS = ("slurm", "pbs", "torque", "sge")
MODES: tuple[str, ...] = ("sim", "docker")
REAL_DOCKER_SCHEDULERS = ("slurm", "sge")


@dataclass(frozen=True)
class BackendChoice:
    """A validated backend value and its origin (``command line``, ``$CLUSTRIX_BACKEND``,
    ``ini clustrix_backend`` or ``default``)."""

    value: str
    origin: str

    @property
    def kind(self) -> str:
        """``plain``, ``profile``, or a simulator mode from :data:`MODES` (``sim``)."""
        if self.value in PLAIN:
            return "plain"
        if self.value.startswith("profile:"):
            return "profile"
        return self.value.rsplit("-", 1)[1]

    @property
    def scheduler(self) -> str | None:
        """The simulated scheduler of a ``<scheduler>-<mode>`` value."""
        if self.kind in MODES:
            return self.value.rsplit("-", 1)[0]
        return None

    @property
    def profile_name(self) -> str | None:
        return self.value.split(":", 1)[1] if self.kind == "profile" else None

    @property
    def uses_simulator(self) -> bool:
        return self.kind in MODES


def available_sim_schedulers() -> tuple[str, ...]:
    """Schedulers whose simulator front end is installed (checked without importing it)."""
    try:  # stdlib only: it looks for the front ends' folders on disk (torque lives in pbs/)
        from clustrix_sim import frontends
    except ImportError:
        return ()
    installed = frontends.installed()
    return tuple(name for name in SIM_SCHEDULERS if name in installed)


def available_schedulers(mode: str) -> tuple[str, ...]:
    """Schedulers offered in ``mode``: the simulator's front ends; in Docker also the real ones."""
    sims = available_sim_schedulers()
    if mode == "docker":
        return REAL_DOCKER_SCHEDULERS + tuple(s for s in sims if s not in REAL_DOCKER_SCHEDULERS)
    return sims


def valid_values() -> list[str]:
    """Every value accepted today, for error messages and ``--help``."""
    values = list(PLAIN) + [f"{s}-{mode}" for mode in MODES for s in available_schedulers(mode)]
    return values + ["profile:NAME"]


def parse(value: str, origin: str) -> BackendChoice:
    """Validate ``value``; raise ValueError naming it, its origin and the valid values."""
    text = value.strip()
    ok = False
    if text in PLAIN:
        ok = True
    elif text.startswith("profile:"):
        ok = bool(text.split(":", 1)[1].strip())
    elif "-" in text:
        scheduler, _, mode = text.rpartition("-")
        ok = mode in MODES and scheduler in available_schedulers(mode)
    if not ok:
        raise ValueError(
            f"invalid clustrix backend {value!r} (from {origin}); "
            f"valid values: {', '.join(valid_values())}"
        )
    return BackendChoice(text, origin)


def resolve(option_value: str | None, ini_value: str | None, environ: dict[str, str] | None = None) -> BackendChoice:
    """Apply the precedence: command line, then environment, then ini, then ``local``."""
    env = os.environ if environ is None else environ
    if option_value:
        return parse(option_value, "command line")
    if env.get(ENV_VAR):
        return parse(env[ENV_VAR], f"${ENV_VAR}")
    if ini_value:
        return parse(ini_value, f"ini {INI_KEY}")
    return BackendChoice(DEFAULT, "default")
