"""``qhold`` (and ``qrls``, :mod:`clustrix_sim.sge.qrls`): put a user hold on jobs or lift it.

Real 8.1.9 prints ``modified hold of job 13`` for each job, exit 0, whether the job was pending
or already running (the hold then only matters if it is rescheduled); an unknown id prints
``denied: job "999" does not exist`` and exits 1.
"""

from __future__ import annotations

import sys

from clustrix_sim.sge.common import call, err, load_records
from clustrix_sim.sge.qdel import parse_target

__all__ = ["change_hold", "main"]


def change_hold(argv: list[str], *, release: bool) -> int:
    from clustrix_sim.controller import protocol

    tool = "qrls" if release else "qhold"
    args = [a for a in argv if not a.startswith("-h")]  # -h u|o|s: one kind of hold is modelled
    try:
        live = load_records(call("jobs", tool, {"job_ids": None, "include_finished": False}))
        rc = 0
        for text in args:
            parsed = parse_target(text)
            found = parsed is not None and any((r.array_job_id or r.job_id) == parsed[0] for r in live)
            if parsed is None or not found:
                print(f'denied: job "{text}" does not exist')
                rc = 1
                continue
            number, tasks = parsed
            call("release" if release else "hold", tool, {"targets": [
                {"job_id": number, "task": t} for t in (tasks or [None])]})
            print(f"modified hold of job {text}")
        return rc
    except protocol.InjectedFault as exc:
        sys.stdout.write(exc.stdout)
        err(exc.stderr)
        return exc.rc
    except protocol.ControllerUnavailable:
        from clustrix_sim.sge.tools import UNREACHABLE

        err(UNREACHABLE[tool])
        return 1


def main(argv: list[str]) -> int:
    return change_hold(argv, release=False)
