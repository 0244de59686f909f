"""``qdel``: delete jobs, arrays or array tasks (``123``, ``123.4``, ``123.1-3``, ``-u user``).

One line per job on stdout, exit 0: ``<user> has deleted job 2`` (pending) or ``<user> has
registered the job 1 for deletion`` (running); an unknown id prints ``denied: job "999" does
not exist`` and exits 1 (real 8.1.9, ``tests/data/sge_real/``).
"""

from __future__ import annotations

import sys

from clustrix_sim.sge.common import call, current_user, err, group_jobs, load_records

__all__ = ["main", "parse_target"]


def parse_target(text: str) -> tuple[int, list[int] | None] | None:
    """``123`` -> (123, None); ``123.4`` / ``123.1-3[:s]`` -> (123, [tasks]); junk -> None."""
    base, dot, tasks = text.partition(".")
    if not base.isdigit():
        return None
    if not dot:
        return int(base), None
    first, _, rest = tasks.partition("-")
    last, _, step = rest.partition(":")
    if not first.isdigit() or (last and not last.isdigit()) or (step and not step.isdigit()):
        return None
    lo, hi = int(first), int(last or first)
    return int(base), list(range(lo, hi + 1, int(step or 1)))


def main(argv: list[str]) -> int:
    from clustrix_sim.controller import protocol

    user, uid = current_user()
    args = list(argv)
    users = []
    while "-u" in args:
        i = args.index("-u")
        users.append(args[i + 1] if i + 1 < len(args) else "")
        del args[i:i + 2]
    try:
        live = load_records(call("jobs", "qdel", {"job_ids": None, "include_finished": False}))
        rc = 0
        targets: list[tuple[str, int, list[int] | None]] = [(t, *parsed) for t in args
                                                            if (parsed := parse_target(t)) is not None]
        for text in args:
            if parse_target(text) is None:
                print(f'denied: job "{text}" does not exist')
                rc = 1
        for job in group_jobs(r for r in live if users and r.request.user in users):
            targets.append((str(job.number), job.number, None))
        for text, number, tasks in targets:
            mine = [r for r in live if (r.array_job_id or r.job_id) == number]
            if tasks is not None:
                mine = [r for r in mine if r.array_task_id in tasks]
            if not mine:
                print(f'denied: job "{text}" does not exist')
                rc = 1
                continue
            running = any(r.state != "PENDING" for r in mine)
            call("signal", "qdel", {"targets": [{"job_id": number, "task": t} for t in (tasks or [None])],
                                    "signal": None, "uid": uid})
            if tasks is not None:
                for rec in mine:
                    what = f"job-array task {number}.{rec.array_task_id}"
                    print(f"{user} has registered the {what} for deletion" if rec.state != "PENDING"
                          else f"{user} has deleted {what}")
            elif running:
                print(f"{user} has registered the job {number} for deletion")
            else:
                print(f"{user} has deleted job {number}")
        return rc
    except protocol.InjectedFault as exc:
        sys.stdout.write(exc.stdout)
        err(exc.stderr)
        return exc.rc
    except protocol.ControllerUnavailable:
        from clustrix_sim.sge.tools import UNREACHABLE

        err(UNREACHABLE["qdel"])
        return 1
