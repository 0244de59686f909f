"""``qhold [-h u|o|s] id...``: hold queued jobs (state ``H``, ``Hold_Types = u``).

A job that already runs cannot be held without checkpointing: ``qhold: Request invalid for
state of job <id>`` (PBSE_BADSTATE, exit 168).
"""

from __future__ import annotations

import getopt
import sys

from clustrix_sim.pbs.dialect import PBSPRO, Dialect

__all__ = ["hold_or_release", "main"]


def hold_or_release(prog: str, op: str, argv: list[str], dialect: Dialect) -> int:
    from clustrix_sim.pbs.common import call
    from clustrix_sim.pbs.control import each_job, engine_status_error

    try:
        _opts, ids = getopt.getopt(argv, "h:")
    except getopt.GetoptError as exc:
        sys.stderr.write(f"{prog}: invalid option -- '{exc.opt}'\nusage: {prog} [-h hold_list] job_identifier...\n")
        return 2
    if not ids:
        sys.stderr.write(f"usage: {prog} [-h hold_list] job_identifier...\n")
        return 2

    def act(full_id: str, target) -> int:
        _seq, _index, records = target
        live = [r.job_id for r in records if r.state == "PENDING"] if op == "hold" else [r.job_id for r in records]
        if not live:
            return engine_status_error(prog, full_id, [{"status": "not_pending"}])
        result = call(op, prog, {"job_ids": live})
        return engine_status_error(prog, full_id, result.get("results", []))

    return each_job(prog, ids, dialect, act)


def main(argv: list[str], dialect: Dialect = PBSPRO) -> int:
    return hold_or_release("qhold", "hold", argv, dialect)
