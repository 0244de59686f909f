"""``qrls``: lift the user hold of jobs (``qhold``'s counterpart; same output and errors)."""

from __future__ import annotations

from clustrix_sim.sge.qhold import change_hold

__all__ = ["main"]


def main(argv: list[str]) -> int:
    return change_hold(argv, release=True)
