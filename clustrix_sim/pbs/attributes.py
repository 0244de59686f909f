"""A PBS job's attributes, in the order ``qstat -f`` prints them, built from engine records.

A :class:`View` is what qstat lists: a plain job, a subjob, or an array (its subjobs' records
together). :func:`job_attributes` returns ``(name, resource, value)`` triples, values as the
server sends them (times as epoch strings: the writers turn them into ``ctime()`` text).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clustrix_sim.pbs.common import display_id, exit_status, is_finished, state_letter
from clustrix_sim.pbs.jobenv import paths_for

if TYPE_CHECKING:
    from clustrix_sim.engine.model import JobRecord
    from clustrix_sim.pbs.dialect import Dialect

__all__ = ["TIME_ATTRS", "View", "array_state", "format_hms", "format_size", "job_attributes", "views"]

TIME_ATTRS = frozenset({"ctime", "etime", "mtime", "qtime", "stime", "obittime", "start_time",
                        "comp_time"})
Attr = tuple[str, "str | None", str]


@dataclass
class View:
    """One line of ``qstat``: ``kind`` is ``job``, ``subjob`` or ``array``."""

    id: str
    kind: str
    records: list[JobRecord]

    @property
    def rec(self) -> JobRecord:
        return self.records[0]


def views(records: list[JobRecord], server: str, *, subjobs: bool) -> list[View]:
    """Jobs in submission order: arrays once (and, with ``subjobs``, each subjob after them)."""
    out: list[View] = []
    arrays: dict[int, View] = {}
    for rec in sorted(records, key=lambda r: r.job_id):
        if rec.array_job_id is None:
            out.append(View(display_id(rec, server), "job", [rec]))
            continue
        parent = arrays.get(rec.array_job_id)
        if parent is None:
            parent = arrays[rec.array_job_id] = View(display_id(rec, server, parent=True), "array", [])
            out.append(parent)
        parent.records.append(rec)
    if not subjobs:
        return out
    expanded: list[View] = []
    for view in out:
        expanded.append(view)
        if view.kind == "array":
            expanded += [View(display_id(r, server), "subjob", [r]) for r in view.records]
    return expanded


def array_state(view: View, dialect: Dialect) -> str:
    """An array's letter: PBS Pro ``Q``/``H`` until a subjob begins, then ``B``, ``F`` when all
    are done; Torque ``R`` while one runs, ``C`` when all completed."""
    letters = [state_letter(r, dialect) for r in view.records]
    done = dialect.finished_subjob
    if all(x == done for x in letters):
        return dialect.finished
    if dialect.name == "torque":
        return "R" if any(x in "RE" for x in letters) else ("H" if all(x == "H" for x in letters) else "Q")
    if any(x != "Q" and x != "H" for x in letters):
        return "B"
    return "H" if all(x == "H" for x in letters) else "Q"


def view_state(view: View, dialect: Dialect) -> str:
    return array_state(view, dialect) if view.kind == "array" else state_letter(view.rec, dialect)


def array_exit_status(view: View, dialect: Dialect) -> int | None:
    """PBS Pro's array exit status: 0 when every subjob exited 0, 1 when one failed, 2 when one
    was deleted or killed (``qsub`` man page, "Exit status of array jobs")."""
    if not all(is_finished(r) for r in view.records):
        return None
    statuses = [exit_status(r, dialect) for r in view.records]
    if any(s is None or s < 0 or s >= 256 for s in statuses):
        return 2
    return 1 if any(statuses) else 0


def format_hms(seconds: float) -> str:
    total = max(int(seconds), 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def format_size(mb: float) -> str:
    """A size the way the server normalises it: the largest unit that divides it exactly."""
    kb = int(round(mb * 1024))
    for unit, factor in (("tb", 1 << 30), ("gb", 1 << 20), ("mb", 1 << 10)):
        if kb and kb % factor == 0:
            return f"{kb // factor}{unit}"
    return f"{kb}kb"


def _comment_time(epoch: float) -> str:
    return time.strftime("%a %b %d at %H:%M", time.localtime(epoch))


def _exec_host(rec: JobRecord, dialect: Dialect, per_node: int) -> str:
    if dialect.name == "torque":
        return "+".join(f"{n}/0-{per_node - 1}" if per_node > 1 else f"{n}/0" for n in rec.node_list)
    return "+".join(f"{n}/0*{per_node}" for n in rec.node_list)


def job_attributes(view: View, dialect: Dialect, server: str, now: float) -> list[Attr]:
    """The attributes ``qstat -f`` prints for ``view``, in the server's order."""
    rec = view.rec
    req = rec.request
    opts = req.flavor_options
    letter = view_state(view, dialect)
    started = [r for r in view.records if r.start_time is not None]
    first_start = min((r.start_time for r in started), default=None)
    last = max(view.records, key=lambda r: (r.end_time or 0))
    nodes = max(req.nodes, 1)
    per_node = max(req.cpus_per_task, 1) * max(req.ntasks // nodes, 1)
    host = req.submit_host
    attrs: list[Attr] = [("Job_Name", None, req.name), ("Job_Owner", None, f"{req.user}@{host}")]
    if view.kind != "array" and rec.start_time is not None:
        end = rec.end_time if rec.end_time is not None else now
        used = [("cpupercent", "0"), ("cput", "00:00:00"), ("mem", f"{int(rec.max_rss_mb * 1024)}kb"),
                ("ncpus", str(per_node * nodes)), ("vmem", f"{int(rec.max_rss_mb * 1024)}kb"),
                ("walltime", format_hms(end - rec.start_time))]
        if dialect.name == "torque":
            used = [u for u in used if u[0] in ("cput", "mem", "vmem", "walltime")]
            used.insert(1, ("energy_used", "0"))
        attrs += [("resources_used", k, v) for k, v in used]
    attrs += [("job_state", None, letter), ("queue", None, rec.partition or req.partition or ""),
              ("server", None, server), ("Checkpoint", None, "u"), ("ctime", None, str(int(rec.submit_time)))]
    out_path, err_path = paths_for(rec, dialect, joined=False)
    attrs.append(("Error_Path", None, f"{host}:{err_path}"))
    if view.kind != "array" and rec.node_list and letter not in ("Q", "H"):
        attrs.append(("exec_host", None, _exec_host(rec, dialect, per_node)))
        if dialect.name != "torque":
            vnodes = "+".join(f"({n}:ncpus={per_node}{f':mem={rec.alloc_mem_mb * 1024}kb' if req.mem_mb else ''})"
                              for n in rec.node_list)
            attrs.append(("exec_vnode", None, vnodes))
    hold = "u" if rec.held else ("s" if rec.reason == "Dependency" and rec.state == "PENDING" else "n")
    attrs += [("Hold_Types", None, hold), ("Join_Path", None, opts.get("join") or "n"),
              ("Keep_Files", None, "n"), ("Mail_Points", None, "a"),
              ("mtime", None, str(int(last.end_time or first_start or rec.submit_time))),
              ("Output_Path", None, f"{host}:{out_path}"),
              ("Priority", None, "0"), ("qtime", None, str(int(rec.submit_time))),
              ("Rerunable", None, "True" if req.requeue else "False")]
    attrs += [("Resource_List", k, v) for k, v in _resource_list(req, dialect)]
    if view.kind != "array" and rec.start_time is not None:
        key = "start_time" if dialect.name == "torque" else "stime"
        attrs.append((key, None, str(int(rec.start_time))))
        if rec.pid is not None or rec.state in ("RUNNING", "COMPLETING"):
            attrs.append(("session_id", None, str(rec.pid or 0)))
    if dialect.name != "torque":
        attrs.append(("jobdir", None, opts.get("home") or req.work_dir))
        attrs.append(("substate", None, _substate(letter)))
    attrs.append(("Variable_List", None, opts.get("variable_list") or ""))
    comment = _comment(view, letter, dialect)
    if comment:
        attrs.append(("comment", None, comment))
    attrs.append(("etime", None, str(int(rec.eligible_time or rec.submit_time))))
    if view.kind != "array" and rec.start_time is not None:
        attrs.append(("run_count", None, str(rec.restart_count + 1)))
    status = array_exit_status(view, dialect) if view.kind == "array" else exit_status(rec, dialect)
    if view.kind == "array" and dialect.name == "torque":
        status = None
    if status is not None and letter in (dialect.finished, dialect.finished_subjob):
        if dialect.name != "torque":
            attrs.append(("Stageout_status", None, "1"))
        attrs.append((dialect.exit_key, None, str(status)))
        if dialect.name == "torque" and rec.end_time is not None:
            attrs.append(("comp_time", None, str(int(rec.end_time))))
    attrs += _array_attributes(view, dialect, server)
    attrs.append(("Submit_arguments" if dialect.name != "torque" else "submit_args", None,
                  opts.get("submit_args") or ""))
    if dialect.name != "torque":
        if letter == dialect.finished and rec.end_time is not None:
            attrs.append(("history_timestamp", None, str(int(last.end_time or rec.end_time))))
        attrs.append(("project", None, req.account or "_pbs_project_default"))
        attrs.append(("Submit_Host", None, host))
    else:
        attrs += [("submit_host", None, host), ("init_work_dir", None, opts.get("submit_dir") or req.work_dir),
                  ("request_version", None, "1")]
    return [(n, r, v) for n, r, v in attrs if v != "" or n == "Variable_List"]


def _resource_list(req, dialect: Dialect) -> list[tuple[str, str]]:
    opts = req.flavor_options
    nodes = max(req.nodes, 1)
    per_node = max(req.cpus_per_task, 1) * max(req.ntasks // nodes, 1)
    out: list[tuple[str, str]] = []
    if req.mem_mb is not None:
        out.append(("mem", format_size(req.mem_mb * nodes)))
    if dialect.name == "torque":
        out.append(("nodect", str(nodes)))
        out.append(("nodes", opts.get("nodes_text") or f"{nodes}:ppn={per_node}"))
    else:
        out += [("ncpus", str(per_node * nodes)), ("nodect", str(nodes)),
                ("place", opts.get("place") or "pack"),
                ("select", opts.get("select_text") or f"{nodes}:ncpus={per_node}")]
    if req.time_limit_s:
        out.append(("walltime", format_hms(req.time_limit_s)))
    return out


def _substate(letter: str) -> str:
    return {"Q": "10", "H": "20", "R": "42", "E": "50", "B": "42", "F": "92", "X": "92"}.get(letter, "10")


def _comment(view: View, letter: str, dialect: Dialect) -> str:
    rec = view.rec
    if dialect.name == "torque":
        return ""
    if view.kind == "array":
        return "Job Array Began" if letter == "B" else ("Job Array Finished" if letter == "F" else "")
    if rec.start_time is None:
        if letter == "H":
            return "Job held by user" if rec.held else ""
        return "Not Running: Insufficient amount of resource: ncpus" if rec.reason == "Resources" else ""
    vnode = "+".join(f"({n}:ncpus={max(rec.alloc_cpus // max(len(rec.node_list), 1), 1)})" for n in rec.node_list)
    text = f"Job run at {_comment_time(rec.start_time)} on {vnode}"
    if letter in (dialect.finished, dialect.finished_subjob):
        return text + (" and finished" if rec.state == "COMPLETED" else " and failed")
    return text


def _array_attributes(view: View, dialect: Dialect, server: str) -> list[Attr]:
    rec = view.rec
    if dialect.name == "torque":
        if view.kind == "subjob":
            return [("job_array_id", None, str(rec.array_task_id))]
        if view.kind == "array":
            return [("job_array_request", None, rec.request.array_text or "")]
        return []
    if view.kind == "subjob":
        return [("array_id", None, display_id(rec, server, parent=True)),
                ("array_index", None, str(rec.array_task_id))]
    if view.kind != "array":
        return []
    letters = [state_letter(r, dialect) for r in view.records]
    remaining = [r.array_task_id for r, x in zip(view.records, letters, strict=True) if x in ("Q", "H")]
    counts = (f"Queued:{letters.count('Q') + letters.count('H')} Running:{letters.count('R')} "
              f"Exiting:{letters.count('E')} Expired:{letters.count('X')} ")
    return [("array", None, "True"), ("array_state_count", None, counts),
            ("array_indices_submitted", None, rec.request.array_text or ""),
            ("array_indices_remaining", None, _ranges(remaining) or "-")]


def _ranges(indices: list) -> str:
    values = sorted(int(i) for i in indices if i is not None)
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(parts)
