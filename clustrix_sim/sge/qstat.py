"""``qstat``: the caller's pending and running jobs (the default table, ``-f``, ``-xml``, ``-j``).

Formats are the real 8.1.9 ones (``tests/data/sge_real/``): with no jobs the default table prints
nothing at all; finished jobs vanish at once (``qacct`` knows them). Options: ``-u user|'*'``
(default: the caller), ``-s p|r|h|z``, ``-f``, ``-xml``, ``-j id[,id]``, ``-g d`` (array tasks
one per line).
"""

from __future__ import annotations

import sys

from clustrix_sim.sge import qstat_show
from clustrix_sim.sge.common import call, current_user, err, load_records, qstat_date
from clustrix_sim.sge.qstat_rows import Row, rows

__all__ = ["main", "table"]

HEADER = ("job-ID  prior   name       user         state submit/start at     queue                          "
          "slots ja-task-ID ")


def _line(row: Row, *, queue_column: bool) -> str:
    head = (f"{row.number:7d} {row.prio:7.5f} {row.name[:10]:<10} {row.user[:12]:<12} {row.state[:5]:<5} "
            f"{qstat_date(row.when)} ")
    if queue_column:
        head += f"{row.queue[:30]:<30} "
    return head + f"{row.slots:5d} " + (row.tasks if row.tasks else " " * 7)


def table(selected: list[Row]) -> str:
    if not selected:
        return ""
    lines = [HEADER, "-" * 113] + [_line(r, queue_column=True) for r in selected]
    return "\n".join(lines) + "\n"


def _full(selected: list[Row], nodes: list[dict], queue: str) -> str:
    import os

    lines = ["queuename                      qtype resv/used/tot. load_avg arch          states"]
    load = os.getloadavg()[0]
    for node in nodes:
        name = f"{queue}@{node['name']}"
        mine = [r for r in selected if r.running and r.queue == name]
        used = sum(r.slots for r in mine)
        counts = f"0/{used}/{node['cpus']}"
        lines += ["-" * 81, f"{name:<30} {'BIP':<5} {counts:<14} {load:<8.2f} {'lx-amd64':<13} "]
        lines += [_line(r, queue_column=False) for r in mine]
    waiting = [r for r in selected if not r.running]
    if waiting:
        lines += ["", "#" * 76, " - PENDING JOBS - PENDING JOBS - PENDING JOBS - PENDING JOBS - PENDING JOBS",
                  "#" * 76] + [_line(r, queue_column=False) for r in waiting]
    return "\n".join(lines) + "\n"


def _select(all_rows: list[Row], users: list[str], states: str | None) -> list[Row]:
    out = [r for r in all_rows if "*" in users or r.user in users]
    if states:
        keep = []
        for r in out:
            if ("p" in states and not r.running) or ("r" in states and r.running) or ("h" in states and "h" in r.state):
                keep.append(r)
        out = keep
    return out


def main(argv: list[str]) -> int:
    from clustrix_sim.controller import protocol

    user, _ = current_user()
    users: list[str] = []
    states = None
    full = xml = False
    show: list[str] | None = None
    args = list(argv)
    i = 0
    while i < len(args):
        word = args[i]
        value = args[i + 1] if i + 1 < len(args) else None
        if word in ("-u", "-s", "-j", "-g", "-q", "-l", "-pe") and value is None:
            err(f"ERROR! {word} option must have argument")
            return 1
        if word == "-u":
            users += value.split(",")
        elif word == "-s":
            states = value
        elif word == "-j":
            show = value.split(",")
        elif word in ("-g", "-q", "-l", "-pe"):
            pass
        elif word == "-f":
            full = True
        elif word == "-xml":
            xml = True
        elif word in ("-r", "-t", "-ext", "-urg", "-pri"):
            i += 1
            continue
        else:
            err(f'ERROR! invalid option argument "{word}"')
            return 1
        i += 2 if word in ("-u", "-s", "-j", "-g", "-q", "-l", "-pe") else 1
    try:
        if show is not None:
            return qstat_show.show(show, xml=xml)
        records = load_records(call("jobs", "qstat", {"job_ids": None, "include_finished": False}))
        selected = _select(rows(records), users or [user], states)
        if xml:
            from clustrix_sim.sge.qstat_xml import render

            sys.stdout.write(render(selected))
        elif full:
            nodes = call("nodes", "qstat")["nodes"]
            sys.stdout.write(_full(selected, nodes, "all.q"))
        else:
            sys.stdout.write(table(selected))
        return 0
    except protocol.InjectedFault as exc:
        sys.stdout.write(exc.stdout)
        err(exc.stderr)
        return exc.rc
    except protocol.ControllerUnavailable:
        from clustrix_sim.sge.tools import UNREACHABLE

        err(UNREACHABLE["qstat"])
        return 1
