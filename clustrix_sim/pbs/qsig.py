"""``qsig [-s signal] id...``: send a signal (default SIGTERM) to every process of running jobs.

The signal is a name with or without ``SIG`` or a number; a job that is not running gives
``qsig: Request invalid for state of job <id>`` (168); a bad name ``qsig: illegal -s value``.
"""

from __future__ import annotations

import getopt
import signal
import sys

from clustrix_sim.pbs.dialect import PBSPRO, Dialect

__all__ = ["main", "signal_number"]

USAGE = "usage: qsig [-s signal] job_identifier...\n       qsig --version\n"


def signal_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    name = text.upper()
    try:
        return int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
    except KeyError:
        return None


def main(argv: list[str], dialect: Dialect = PBSPRO) -> int:
    from clustrix_sim.pbs.common import call, current_user
    from clustrix_sim.pbs.control import each_job, engine_status_error

    try:
        opts, ids = getopt.getopt(argv, "s:")
    except getopt.GetoptError as exc:
        sys.stderr.write(f"qsig: invalid option -- '{exc.opt}'\n{USAGE}")
        return 2
    signum = signal_number(dict(opts).get("-s", "SIGTERM"))
    if signum is None or not ids:
        sys.stderr.write(("qsig: illegal -s value\n" if signum is None else "") + USAGE)
        return 2
    _, uid = current_user()

    def send(full_id: str, target) -> int:
        seq, index, records = target
        if not any(r.state == "RUNNING" for r in records):
            return engine_status_error("qsig", full_id, [{"status": "job_pending"}])
        result = call("signal", "qsig", {"targets": [{"job_id": seq, "task": index}], "signal": signum,
                                         "scope": "full", "uid": uid})
        return engine_status_error("qsig", full_id, result.get("results", []))

    return each_job("qsig", ids, dialect, send)
