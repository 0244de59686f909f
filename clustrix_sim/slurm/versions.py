"""The Slurm releases the simulator answers as, and how a tool learns which one it is.

``SUPPORTED`` maps a release (``"22.05"``, ``"24.11"``) to the full version its tools print
(``sbatch --version`` -> ``slurm 22.05.8``): the releases Debian ships (bookworm, trixie), which
the fidelity suite holds the simulator against. A tool asks :func:`current` — the release
written into its cluster's state dir at start (:func:`clustrix_sim.slurm.site.write_frontend_settings`),
or the default when there is none (a state dir from before versions existed).

What differs between the releases lives with the tool that prints it, keyed on
:func:`at_least` (``if at_least("23.02"): ...``), so each difference names the release that
introduced it.
"""

from __future__ import annotations

import json
import os

__all__ = ["DEFAULT", "OPTIONS_SINCE", "SHORTS_SINCE", "SUPPORTED", "at_least", "current", "full_version",
           "has_option", "has_short", "normalize_version"]

SUPPORTED = {"22.05": "22.05.8", "24.11": "24.11.5"}
DEFAULT = "22.05"
SOCKET_ENV = "CLUSTRIX_SIM_SOCKET"  # protocol.SOCKET_ENV, without importing the protocol at startup
_cache: dict[str, str] = {}


def normalize_version(value: str) -> str:
    """``"24.11"``, ``"24.11.5"`` or ``"slurm 24.11.5"`` -> ``"24.11"``; a clear error otherwise."""
    text = str(value).strip().removeprefix("slurm").strip()
    release = ".".join(text.split(".")[:2])
    if release not in SUPPORTED:
        raise ValueError(f"Slurm version {value!r} is not simulated; choose one of {', '.join(SUPPORTED)}")
    return release


def full_version(release: str | None = None) -> str:
    """What ``--version`` prints after ``slurm ``: ``22.05.8``."""
    return SUPPORTED[release or current()]


def current() -> str:
    """The release this tool answers as (read once per process from the cluster's state dir)."""
    socket = os.environ.get(SOCKET_ENV, "")
    if socket not in _cache:
        release = DEFAULT
        try:
            with open(os.path.join(os.path.dirname(socket), "slurm.json")) as fh:
                release = normalize_version(json.load(fh).get("slurm_version", DEFAULT))
        except (OSError, ValueError, AttributeError):
            pass  # no settings file (no socket, or an older state dir): the default release
        _cache[socket] = release
    return _cache[socket]


def at_least(release: str) -> bool:
    """Whether the current release is ``release`` or later (``at_least("23.02")``)."""
    return tuple(map(int, current().split("."))) >= tuple(map(int, release.split(".")))


OPTIONS_SINCE = {
    ("squeue", "only-job-state"): "24.11",
    ("sacct", "array"): "24.11",            # one row per array task, pending ones too
    ("sbatch", "tres-per-task"): "24.11",
    ("scontrol", "json"): "24.11",
    ("scontrol", "yaml"): "24.11",
}
"""(tool, option key) the simulator knows that 22.05's tool refuses as unknown (measured on
both releases; the release that added each is not measured here)."""


SHORTS_SINCE = {("scancel", "c"): "24.11"}  # 22.05 has --ctld but not -c
"""(tool, short letter) of an option both releases have, which 22.05 has only in its long form."""


def has_short(tool: str, letter: str) -> bool:
    """Whether ``tool`` of the current release has the short option ``-letter``."""
    since = SHORTS_SINCE.get((tool, letter))
    return since is None or at_least(since)


def has_option(tool: str, key: str) -> bool:
    """Whether ``tool`` of the current release has the option ``key``."""
    since = OPTIONS_SINCE.get((tool, key))
    return since is None or at_least(since)
