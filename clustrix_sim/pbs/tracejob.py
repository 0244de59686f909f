"""``tracejob [-n days] <id>``: a job's history from the server's logs (Torque, and PBS Pro).

The simulator's accounting store stands in for the logs, so this works after the job left
``qstat`` (``keep_completed`` passed, or history is off). Layout (Torque ``tracejob.c``):
``\\nJob: <id>\\n\\n`` then ``%-20s %-5c<message>`` per event, events ``S`` (server) and
``A`` (accounting: ``Exit_status=... resources_used.walltime=...``). Nothing found prints
``tracejob: No matching job records located`` on stderr.
"""

from __future__ import annotations

import getopt
import sys
import time

from clustrix_sim.pbs.dialect import PBSPRO, Dialect

__all__ = ["main"]


def _date(epoch: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.localtime(epoch))


def main(argv: list[str], dialect: Dialect = PBSPRO) -> int:
    from clustrix_sim.controller import protocol
    from clustrix_sim.pbs.attributes import format_hms, views
    from clustrix_sim.pbs.common import exit_status, load, parse_job_id, server_info

    try:
        _opts, ids = getopt.getopt(argv, "aslmqvzc:w:p:n:f:")
    except getopt.GetoptError as exc:
        sys.stderr.write(f"tracejob: invalid option -- '{exc.opt}'\n")
        return 2
    ref = parse_job_id(ids[0]) if len(ids) == 1 else None
    if ref is None:
        sys.stdout.write("USAGE: tracejob [-a|s|l|m|q|v|z] [-c count] [-w size] [-p path] [-n days] "
                         "[-f filter_type] <JOBID>\n")
        return 1
    server = server_info("tracejob")["server"]
    try:
        records = load("tracejob", [ref.seq], history=True)
    except protocol.RequestRefused:
        records = []
    records = [r for r in records if (r.array_job_id is None) == (ref.index is None)]
    if isinstance(ref.index, int):
        records = [r for r in records if r.array_task_id == ref.index]
    if not records:
        sys.stderr.write("tracejob: No matching job records located\n")
        return 1
    view = views(records, server, subjobs=False)[0]
    rec = view.rec
    req = rec.request
    events = [(rec.submit_time, "S", f"enqueuing into {rec.partition}, state 1 hop 1"),
              (rec.submit_time, "S", f"Job Queued at request of {req.user}@{req.submit_host}, owner = "
                                     f"{req.user}@{req.submit_host}, job name = {req.name}, queue = {rec.partition}")]
    for r in view.records:
        if r.start_time is not None:
            events.append((r.start_time, "S", f"Job Run at request of root@{server}"))
        if r.end_time is not None and r.start_time is not None:
            walltime = format_hms(r.end_time - r.start_time)
            events.append((r.end_time, "S", f"{dialect.exit_key}={exit_status(r, dialect)}"))
            events.append((r.end_time, "A", f"user={req.user} group={req.user} jobname={req.name} "
                                           f"queue={r.partition} Exit_status={exit_status(r, dialect)} "
                                           f"resources_used.walltime={walltime}"))
        elif r.end_time is not None:
            events.append((r.end_time, "S", "Job deleted at request of " + f"{req.user}@{req.submit_host}"))
    lines = [f"{_date(t):<20} {kind:<5}{msg}\n" for t, kind, msg in sorted(events, key=lambda e: e[0])]
    sys.stdout.write(f"\nJob: {view.id}\n\n" + "".join(lines))
    return 0
