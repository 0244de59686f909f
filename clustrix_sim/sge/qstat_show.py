"""``qstat -j id[,id]``: one job's details, ``key:`` padded to 28 columns under a line of 62 ``=``.

An unknown job prints ``Following jobs do not exist: `` and the ids on stderr, exit 1 (real 8.1.9).
"""

from __future__ import annotations

import sys

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.sge.common import (
    call,
    ctime_date,
    err,
    group_jobs,
    load_records,
    range_text,
    slots_of,
)

__all__ = ["details", "show"]


def _row(key: str, value: object) -> str:
    return f"{key + ':':<28}{value}"


def details(job_records: list[JobRecord], successors: list[int], host: str) -> str:
    first = job_records[0]
    req = first.request
    opts = req.flavor_options
    number = first.array_job_id or first.job_id
    lines = ["=" * 62, _row("job_number", number), _row("exec_file", f"job_scripts/{number}"),
             _row("submission_time", ctime_date(first.submit_time)), _row("owner", req.user),
             _row("uid", req.uid), _row("group", req.user), _row("gid", req.uid),
             _row("sge_o_home", opts.get("home", "")), _row("sge_o_log_name", req.user),
             _row("sge_o_path", opts.get("o_path", "")), _row("sge_o_workdir", opts.get("submit_dir", "")),
             _row("sge_o_host", req.submit_host), _row("account", req.account or "sge")]
    if req.work_dir != opts.get("home"):
        lines.append(_row("cwd", req.work_dir))
    category = str(opts.get("category", "NONE"))
    if "-l " in category:
        lines.append(_row("hard resource_list", category.split("-l ", 1)[1].split(" ")[0]))
    lines += [_row("mail_list", f"{req.user}@{host}"), _row("notify", "FALSE"), _row("job_name", req.name),
              _row("jobshare", 0)]
    if req.stdout_pattern:
        lines.append(_row("stdout_path_list", f"NONE:NONE:{req.stdout_pattern}"))
    if req.stderr_pattern:
        lines.append(_row("stderr_path_list", f"NONE:NONE:{req.stderr_pattern}"))
    if opts.get("join"):
        lines.append(_row("merge", "y"))
    lines += [_row("env_list", "TERM=NONE"), _row("script_file", opts.get("job_script", req.name))]
    if opts.get("pe"):
        lines.append(f"parallel environment:  {opts['pe']} range: {slots_of(first)}")
    if first.array_task_id is not None:
        lines.append(_row("job-array tasks", f"{opts.get('task_first')}-{opts.get('task_last')}:"
                                              f"{opts.get('task_step')}"))
    if successors:
        lines.append(_row("jid_successor_list", ",".join(map(str, successors))))
    lines.append(_row("binding", "NONE"))
    if opts.get("binary"):
        lines.append(_row("job_type", "binary"))
    held = [r for r in job_records if r.state == "PENDING" and r.held]
    if held and first.array_task_id is None:
        lines.append(_row("scheduling info", "Job is in hold state"))
    elif held:
        lines.append(_row("scheduling info", "Job is in hold state: tasks "
                          + range_text([r.array_task_id for r in held if r.array_task_id is not None])))
    else:
        lines.append(_row("scheduling info", "(Collecting of scheduler job information is turned off)"))
    return "\n".join(lines) + "\n"


def show(ids: list[str], *, xml: bool = False) -> int:
    records = load_records(call("jobs", "qstat", {"job_ids": None, "include_finished": False}))
    jobs = {job.number: job for job in group_jobs(records)}
    missing = [i for i in ids if not i.isdigit() or int(i) not in jobs]
    if missing:
        err("Following jobs do not exist: \n" + ", ".join(missing))
        return 1
    nodes = call("nodes", "qstat")["nodes"]
    host = nodes[0]["name"] if nodes else "localhost"  # the qmaster's host: one cell, one host here
    for text in ids:
        job = jobs[int(text)]
        successors = sorted({r.array_job_id or r.job_id for r in records
                             for d in r.request.dependencies if str(job.number) in d.job_ids})
        sys.stdout.write(details(job.records, successors, host))
    return 0
