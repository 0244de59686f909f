"""``qrls [-h u|o|s] id...``: release held jobs (back to ``Q``); see :mod:`.qhold`."""

from __future__ import annotations

from clustrix_sim.pbs.dialect import PBSPRO, Dialect
from clustrix_sim.pbs.qhold import hold_or_release

__all__ = ["main"]


def main(argv: list[str], dialect: Dialect = PBSPRO) -> int:
    return hold_or_release("qrls", "release", argv, dialect)
