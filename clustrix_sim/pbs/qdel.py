"""``qdel [-W force|<seconds>] [-x] id...``: delete jobs, arrays (every subjob) or subjobs.

A running job gets SIGTERM, then SIGKILL after the kill delay (``-W force``: at once); its
``Exit_status`` becomes ``256 + signal`` (265 for SIGKILL, 271 for SIGTERM). A queued job is
removed without an exit status.
"""

from __future__ import annotations

import getopt
import sys

from clustrix_sim.pbs.dialect import PBSPRO, Dialect

__all__ = ["main"]

USAGE = "usage: qdel [-W force|suppress_email=X] [-x] job_identifier...\n       qdel --version\n"


def main(argv: list[str], dialect: Dialect = PBSPRO) -> int:
    from clustrix_sim.pbs.common import call, current_user
    from clustrix_sim.pbs.control import each_job, engine_status_error

    try:
        opts, ids = getopt.getopt(argv, "W:xpm:a:c:" if dialect.name == "torque" else "W:x")
    except getopt.GetoptError as exc:
        sys.stderr.write(f"qdel: invalid option -- '{exc.opt}'\n{USAGE}")
        return 2
    if not ids:
        sys.stderr.write(USAGE)
        return 2
    _, uid = current_user()

    def delete(full_id: str, target) -> int:
        seq, index, _records = target
        result = call("signal", "qdel", {"targets": [{"job_id": seq, "task": index}], "signal": None, "uid": uid})
        return engine_status_error("qdel", full_id, result.get("results", []))

    return each_job("qdel", ids, dialect, delete)
