"""SLURM job state names: long, compact (``job_state_string[_compact]``), sort order, filters."""

from __future__ import annotations

__all__ = [
    "ACTIVE",
    "ALL_STATES",
    "COMPACT",
    "InvalidState",
    "compact",
    "parse_state_list",
    "state_order",
]

COMPACT = {
    "PENDING": "PD", "RUNNING": "R", "SUSPENDED": "S", "COMPLETED": "CD", "CANCELLED": "CA",
    "FAILED": "F", "TIMEOUT": "TO", "NODE_FAIL": "NF", "PREEMPTED": "PR", "BOOT_FAIL": "BF",
    "DEADLINE": "DL", "OUT_OF_MEMORY": "OOM",
    "COMPLETING": "CG", "CONFIGURING": "CF", "STAGE_OUT": "SO", "RESIZING": "RS",
    "REQUEUED": "RQ", "REQUEUE_FED": "RF", "REQUEUE_HOLD": "RH", "SPECIAL_EXIT": "SE",
    "STOPPED": "ST", "REVOKED": "RV", "RESV_DEL_HOLD": "RD", "SIGNALING": "SI",
}
ALL_STATES = tuple(COMPACT)
# What squeue shows without -t (and without -j).
ACTIVE = frozenset({"PENDING", "RUNNING", "SUSPENDED", "COMPLETING", "CONFIGURING", "STAGE_OUT",
                    "RESIZING", "SIGNALING"})


class InvalidState(ValueError):
    """A state name squeue/sacct does not know; ``args[0]`` is the bad name."""


def compact(state: str) -> str:
    """``RUNNING`` -> ``R``; unknown values print ``?`` as in Slurm."""
    return COMPACT.get(state, "?")


def state_order(state: str) -> str:
    """squeue's sort key for a state: its name (sort.c compares job_state_string, so
    CANCELLED < COMPLETED < FAILED < PENDING < RUNNING, as real 22.05 lists them)."""
    return state


def parse_state_list(text: str) -> frozenset[str] | None:
    """``-t/--states`` value: comma list of long or compact names, any case; ``all`` -> None
    (no filter). Raises InvalidState naming the first unknown entry."""
    wanted: set[str] = set()
    by_compact = {v: k for k, v in COMPACT.items()}
    for item in text.split(","):
        name = item.strip().upper()
        if not name:
            continue
        if name == "ALL":
            return None
        if name in COMPACT:
            wanted.add(name)
        elif name in by_compact:
            wanted.add(by_compact[name])
        else:
            raise InvalidState(item.strip())
    return frozenset(wanted)
