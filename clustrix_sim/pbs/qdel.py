"""``qdel [-W force|<seconds>] [-x] id...``: delete jobs, arrays (every subjob) or subjobs.

A running job gets the mom's ``TermJob``: SIGTERM, then SIGKILL after the kill delay, so a
script that dies of the SIGTERM ends with ``Exit_status = 271`` (256 + 15); ``-W force`` sends
SIGKILL at once: 265 (OpenPBS ``req_delete.c``, ``SIGKILL + 0x100``). A queued job is removed
without an exit status.
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
    force = any(k == "-W" and v == "force" for k, v in opts)

    def delete(full_id: str, target) -> int:
        seq, index, _records = target
        result = call("signal", "qdel", {"targets": [{"job_id": seq, "task": index}], "signal": None, "uid": uid,
                                         "hard": force})
        return engine_status_error("qdel", full_id, result.get("results", []))

    return each_job("qdel", ids, dialect, delete)
