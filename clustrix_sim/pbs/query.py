"""What ``qstat`` selects and prints, once its options are parsed (see :mod:`.qstat`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from clustrix_sim.pbs.common import (
    PBSE_HISTJOBID,
    PBSE_UNKJOBID,
    fail,
    is_finished,
    load,
    parse_job_id,
    server_info,
)
from clustrix_sim.pbs.dialect import Dialect

__all__ = ["Query", "run_query"]


@dataclass(frozen=True)
class Query:
    ids: list[str]
    full: bool = False
    fmt: str = "text"
    delimiter: str = "|"
    history: bool = False
    finished_only: bool = False
    xml: bool = False
    subjobs: bool = False
    arrays_only: bool = False
    user: str | None = None
    alternate: bool = False
    nodes: bool = False
    one_line: bool = False
    wide: bool = False


def _finished_view(view, dialect: Dialect) -> bool:
    return all(is_finished(r) for r in view.records)


def run_query(q: Query, dialect: Dialect) -> int:
    from clustrix_sim.pbs.attributes import job_attributes, views

    info = server_info("qstat")
    server = info["server"]
    history_on = dialect.has_history and bool(info.get("accounting_enabled", True))
    rc = 0
    selected: list = []
    if not q.ids:
        records = load("qstat", None, history=history_on)
        for view in views(records, server, subjobs=False):
            if dialect.name != "torque" and not _shown(view, q, dialect, history_on):
                continue
            if view.kind == "array" and q.subjobs:
                subjobs = [v for v in views(view.records, server, subjobs=True) if v.kind == "subjob"]
                selected += subjobs if dialect.name == "torque" else [view, *subjobs]
            else:
                selected.append(view)
    else:
        for text in q.ids:
            ref = parse_job_id(text)
            full_id = ref.full(server) if ref else text
            if ref is None or (ref.server and ref.server.split(".")[0] != server.split(".")[0]):
                rc = fail("qstat", f"{dialect.unknown_job} {full_id}", PBSE_UNKJOBID)
                continue
            found = _lookup(ref, load("qstat", [ref.seq], history=history_on), server, q, dialect)
            if not found:
                rc = fail("qstat", f"{dialect.unknown_job} {full_id}", PBSE_UNKJOBID)
                continue
            head = found[0]
            if dialect.name != "torque":
                if _finished_view(head, dialect) and not history_on:
                    rc = fail("qstat", f"{dialect.unknown_job} {full_id}", PBSE_UNKJOBID)
                    continue
                if _finished_view(head, dialect) and not q.history:
                    rc = fail("qstat", f"{full_id} Job has finished, use -x or -H to obtain historical job "
                              "information", PBSE_HISTJOBID)
                    continue
            selected += found
    if q.user:
        selected = [v for v in selected if v.rec.request.user == q.user]
    if q.arrays_only:
        selected = [v for v in selected if v.kind in ("array", "subjob")]
    now = float(info.get("now", 0.0))
    jobs = [(v.id, job_attributes(v, dialect, server, now)) for v in selected]
    sys.stdout.write(_render(jobs, q, dialect, server, now))
    sys.stdout.flush()
    return rc


def _shown(view, q: Query, dialect: Dialect, history_on: bool) -> bool:
    finished = _finished_view(view, dialect)
    if q.finished_only:
        return finished and history_on
    return not finished or (q.history and history_on)


def _lookup(ref, records: list, server: str, q: Query, dialect: Dialect) -> list:
    from clustrix_sim.pbs.attributes import views

    if ref.index is None:
        return [v for v in views([r for r in records if r.array_job_id is None and r.job_id == ref.seq],
                                 server, subjobs=False)]
    members = [r for r in records if r.array_job_id == ref.seq]
    if ref.index == "":
        found = views(members, server, subjobs=q.subjobs)
        if dialect.name == "torque" and q.subjobs:
            found = [v for v in found if v.kind == "subjob"]
        return found
    return [v for v in views(members, server, subjobs=True)
            if v.kind == "subjob" and v.rec.array_task_id == ref.index]


def _render(jobs: list, q: Query, dialect: Dialect, server: str, now: float) -> str:
    from clustrix_sim.pbs import render, tables

    if q.xml:
        from clustrix_sim.pbs.torque_xml import xml_text

        return xml_text(jobs)
    if q.full:
        if q.fmt == "json":
            return render.json_text(jobs, timestamp=int(now), version=dialect.version, server=server)
        if q.fmt == "dsv":
            return render.dsv_text(jobs, q.delimiter)
        return render.full_text(jobs, dialect.wrap, one_line=q.wide)
    if not jobs:
        return ""
    if q.alternate:
        return tables.alternate_table(jobs, server, nodes=q.nodes, one_line=q.one_line)
    return tables.default_table(jobs, dialect)
