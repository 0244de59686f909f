"""``scontrol``: show job/partition/node/hostnames, hold, release, requeue."""

from __future__ import annotations

import os
import sys

from clustrix_sim.slurm.options import GetoptError, getopt_long, table

OPTIONS = table("""
    all a all -
    details d details -
    future F future -
    help h help -
    hide . hide -
    local . local -
    clusters M clusters|cluster :
    oneliner o oneliner -
    quiet Q quiet -
    sibling . sibling -
    usage . usage -
    verbose v verbose -
    version V version -
    json . json ?
    yaml . yaml ?
""")

STATUS_TEXT = {
    "invalid_job_id": "Invalid job id specified",
    "already_done": "Job/step already completing or completed",
    "job_pending": "Job is pending execution",
    "not_pending": "Job is no longer pending execution",
    "not_requeueable": "Requested operation is presently disabled",
}


def _err(text: str) -> None:
    sys.stderr.write(f"scontrol: error: {text}\n")


def main(argv: list[str]) -> int:
    """Run scontrol with ``argv``; returns the exit code."""
    from clustrix_sim.slurm.common import version_line

    try:
        opts, words = getopt_long(argv, OPTIONS, prog="scontrol")
    except GetoptError as exc:
        sys.stderr.write(f"{exc}\nTry \"scontrol --help\" for more information\n")
        return 1
    present = {k for k, _ in opts}
    if "version" in present or (words and words[0].lower() == "version"):
        sys.stdout.write(version_line())
        return 0
    if "help" in present or "usage" in present or not words:
        sys.stdout.write("scontrol [<OPTION>] [<COMMAND>]\n"
                         "    Valid <COMMAND> values: show, hold, release, requeue, version\n")
        return 0
    command = words[0].lower()
    rest = words[1:]
    one_liner = "oneliner" in present
    detail = "details" in present
    from clustrix_sim.controller import protocol

    try:
        if command == "show":
            return _show(rest, one_liner, detail)
        if command in ("hold", "uhold", "release", "requeue", "requeuehold"):
            return _control(command, rest)
        if command == "ping":
            call_info = _call("ping", {})
            sys.stdout.write(f"Slurmctld(primary) at slurmctld is UP (pid {call_info['pid']})\n")
            return 0
    except protocol.ControllerUnavailable:
        sys.stderr.write("slurm_load_jobs error: Unable to contact slurm controller "
                         "(connect failure)\n")
        return 1
    _err(f"Invalid keyword: {words[0]}")
    return 1


def _call(op: str, params: dict):  # noqa: ANN202
    from clustrix_sim.slurm.common import call

    return call(op, "scontrol", params)


def _show(rest: list[str], one_liner: bool, detail: bool) -> int:
    from clustrix_sim.engine.model import NodeRecord, PartitionRecord
    from clustrix_sim.slurm import scontrol_show as show

    if not rest:
        _err("too few arguments for keyword:show")
        return 1
    entity = rest[0].lower()
    arg = rest[1] if len(rest) > 1 else None
    if "hostnames".startswith(entity) and len(entity) >= 5:
        from clustrix_sim.slurm.hostlist import HostlistError, expand

        text = arg if arg is not None else os.environ.get("SLURM_JOB_NODELIST", "")
        if not text:
            _err("host list is empty")
            return 1
        try:
            hosts = expand(text)
        except HostlistError:
            _err(f"Invalid hostlist: {text}")
            return 1
        sys.stdout.write("".join(h + "\n" for h in hosts))
        return 0
    if "hostlist".startswith(entity) and len(entity) >= 5:
        from clustrix_sim.slurm.hostlist import compress

        sys.stdout.write(compress((arg or "").split(","), sort=False) + "\n")
        return 0
    if "jobs".startswith(entity) and entity.startswith("j"):
        return _show_jobs(arg, one_liner, detail)
    if "partitions".startswith(entity) and entity.startswith("p"):
        parts = [PartitionRecord.from_dict(p) for p in _call("partitions", {})["partitions"]]
        nodes = [NodeRecord.from_dict(n) for n in _call("nodes", {})["nodes"]]
        if arg is not None:
            parts = [p for p in parts if p.name == arg]
            if not parts:
                sys.stdout.write(f"Partition {arg} not found\n")
                return 1
        sys.stdout.write("".join(show.format_partition(p, nodes, one_liner=one_liner)
                                 for p in parts))
        return 0
    if "nodes".startswith(entity) and entity.startswith("n"):
        nodes = [NodeRecord.from_dict(n) for n in _call("nodes", {})["nodes"]]
        if arg is not None:
            from clustrix_sim.slurm.hostlist import expand

            wanted = set(expand(arg))
            nodes = [n for n in nodes if n.name in wanted]
            if not nodes:
                sys.stdout.write(f"Node {arg} not found\n")
                return 1
        sys.stdout.write("".join(show.format_node(n, one_liner=one_liner) for n in nodes))
        return 0
    _err(f"Invalid entity: {rest[0]} for keyword:show")
    return 1


def _resolve(text: str, records) -> list:  # noqa: ANN001
    base, _, task = text.partition("_")
    if not base.isdigit():
        return []
    job = int(base)
    if task:
        if not task.isdigit():
            return []
        return [r for r in records if r.array_job_id == job and r.array_task_id == int(task)]
    return [r for r in records if job in (r.job_id, r.array_job_id)]


def _show_jobs(arg: str | None, one_liner: bool, detail: bool) -> int:
    from clustrix_sim.slurm.common import group_pending_tasks, load_records
    from clustrix_sim.slurm.scontrol_show import format_job

    base = arg.split("_")[0] if arg else None
    if arg is not None and not (base or "").isdigit():
        sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
        return 1
    result = _call("jobs", {"job_ids": [int(base)] if base else None, "include_finished": True})
    now = result.get("now")
    if now is None:
        now = _call("info", {})["now"]
    records = [r for r in load_records(result) if r.visible_in_queue]
    if arg is not None:
        records = _resolve(arg, records)
        if not records:
            sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
            return 1
    elif not records:
        sys.stdout.write("No jobs in the system\n")
        return 0
    records.sort(key=lambda r: r.job_id)
    context = _job_context(records)
    out = []
    for rec, shown in group_pending_tasks(records):
        folded = None
        if "_[" in shown:
            folded = shown.split("_[", 1)[1].rstrip("]")
        out.append(format_job(rec, float(now), detail=detail, one_liner=one_liner,
                              array_range=folded, context=context))
    sys.stdout.write("".join(out))
    return 0


def _job_context(records) -> dict:  # noqa: ANN001
    """What a job record alone does not say: the states of the jobs its dependencies name
    (``dep_states``: id text -> states) and, for jobs given the whole node's memory by default,
    the memory of their partition's first node (``node_mem_mb``)."""
    from clustrix_sim.engine.model import NodeRecord
    from clustrix_sim.slurm.common import load_records

    context: dict = {"dep_states": {}, "node_mem_mb": {}}
    dep_ids = {ref for rec in records if rec.state == "PENDING" or rec.request.dependency_text
               for dep in rec.request.dependencies for ref in dep.job_ids}
    bases = sorted({int(ref.split("_")[0]) for ref in dep_ids if ref.split("_")[0].isdigit()})
    if bases:
        known = load_records(_call("jobs", {"job_ids": bases, "include_finished": True}))
        for ref in dep_ids:
            context["dep_states"][ref] = [r.state for r in _resolve(ref, known) if r.visible_in_queue]
    if any(rec.request.mem_whole_node for rec in records):
        nodes = [NodeRecord.from_dict(n) for n in _call("nodes", {})["nodes"]]
        for node in nodes:
            for part in node.partitions:
                context["node_mem_mb"].setdefault(part, node.mem_mb)
    return context


def _control(command: str, rest: list[str]) -> int:
    from clustrix_sim.slurm.common import load_records

    if not rest:
        _err(f"too few arguments for keyword:{command}")
        return 1
    texts = [t for arg in rest for t in arg.split(",") if t]
    records = load_records(_call("jobs", {"job_ids": sorted(
        {int(t.split("_")[0]) for t in texts if t.split("_")[0].isdigit()}) or None,
        "include_finished": True}))
    op = {"uhold": "hold", "requeuehold": "requeue"}.get(command, command)
    rc = 0
    for text in texts:
        hits = _resolve(text, records)
        ids = sorted({r.job_id for r in hits}) or (
            [int(text)] if text.isdigit() else [])
        if not ids:
            sys.stderr.write(f"Invalid job id specified for job {text}\n")
            rc = 1
            continue
        results = _call(op, {"job_ids": ids}).get("results", [])
        if command == "requeuehold":
            _call("hold", {"job_ids": ids})
        bad = [r for r in results if r.get("status", "ok") != "ok"]
        if bad:
            status = bad[0].get("status")
            sys.stderr.write(f"{STATUS_TEXT.get(status, status)} for job {text}\n")
            rc = 1
    return rc
