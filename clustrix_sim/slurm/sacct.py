"""``sacct``: accounting records (every job ever, from the controller's store)."""

from __future__ import annotations

import re
import sys
import time

from clustrix_sim.slurm.options import table

OPTIONS = table("""
    allusers a allusers -
    accounts A accounts :
    batch-script B batch-script -
    clusters M clusters :
    allclusters L allclusters -
    duplicates D duplicates -
    endtime E endtime :
    env-vars . env-vars -
    format o format :
    help h help -
    helpformat e helpformat -
    jobs j jobs :
    long l long -
    name . name :
    noheader n noheader -
    nodelist N nodelist :
    parsable p parsable -
    parsable2 P parsable2 -
    partition r partition :
    qos q qos :
    starttime S starttime :
    state s state :
    truncate T truncate -
    user u user :
    usage . usage -
    verbose v verbose -
    version V version -
    allocations X allocations -
    array . array -
    delimiter . delimiter :
    units . units :
    json . json ?
    yaml . yaml ?
    local . local -
    noconvert . noconvert -
""")

_JOB = re.compile(r"^(\d+)(?:_(\d+|\[[^\]]*\]))?(?:\.(\w+))?$")


def _err(text: str) -> None:
    sys.stderr.write(f"sacct: error: {text}\n")


def _parse_jobs(texts: list[str]) -> list[tuple[int, int | None]]:
    out: list[tuple[int, int | None]] = []
    for text in texts:
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            match = _JOB.match(item)
            if not match:
                raise ValueError(f"Invalid job id specified: {item}")
            task = match.group(2)
            out.append((int(match.group(1)), int(task) if task and task.isdigit() else None))
    return out


def _parse_start(text: str) -> float:
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return time.mktime(time.strptime(text, fmt))
        except ValueError:
            continue
    raise ValueError(f"Invalid time specification: {text}")


def main(argv: list[str]) -> int:
    """Run sacct with ``argv``; returns the exit code."""
    from clustrix_sim.slurm.common import parse_tool_args

    parsed = parse_tool_args(argv, OPTIONS, "sacct", "Usage: sacct [options]\n\tUse --help for help\n")
    if isinstance(parsed, int):
        return parsed
    opts, present, last = parsed.opts, parsed.present, parsed.last
    if "helpformat" in present:
        from clustrix_sim.slurm.sacct_fields import FIELDS

        names = [name for name, _, _ in FIELDS]
        for i in range(0, len(names), 4):
            sys.stdout.write("".join(f"{n:<20}" for n in names[i:i + 4]).rstrip() + "\n")
        return 0

    from clustrix_sim.slurm.sacct_fields import DEFAULT_FIELDS, find_field

    formats = [v or "" for k, v in opts if k == "format"]
    spec = ",".join(formats) if formats else DEFAULT_FIELDS
    fields = []
    for item in spec.split(","):
        if not item:
            continue
        found = find_field(item)
        if found is None:
            _err(f'Invalid field requested: "{item.split("%")[0]}"')
            return 1
        fields.append(found)

    try:
        wanted = _parse_jobs([v or "" for k, v in opts if k == "jobs"]) if "jobs" in present \
            else None
        start_after = _parse_start(last["starttime"] or "") if "starttime" in present else None
    except ValueError as exc:
        _err(str(exc))
        return 1
    return _show(opts, present, last, fields, wanted, start_after)


def accounting_order(record) -> tuple[int, int, int]:  # noqa: ANN001 - a JobRecord
    """sacct's row order: by job (array) id, then task index, then raw job id."""
    return (record.array_job_id if record.array_job_id is not None else record.job_id,
            record.array_task_id if record.array_task_id is not None else -1,
            record.job_id)


def rows_for(records, now: float, allocations: bool, extern: bool = False,  # noqa: ANN001, ANN201
             expand_arrays: bool = False):
    """The rows sacct prints for ``records`` (already in :func:`accounting_order`): pending
    array tasks folded into one ``123_[..]`` row, or one row per task with ``expand_arrays``
    (24.11's ``--array``); ``.batch`` steps for jobs that started, and ``.extern`` ones when
    ``extern`` (PrologFlags=Contain), unless ``allocations`` (``-X``)."""
    from clustrix_sim.slurm.common import group_pending_tasks, job_display_id
    from clustrix_sim.slurm.sacct_fields import SacctRow

    rows = []
    grouped = [(r, job_display_id(r)) for r in records] if expand_arrays else group_pending_tasks(records)
    for rec, shown in grouped:
        rows.append(SacctRow(rec, shown, None, now))
        if allocations or rec.state == "PENDING" or rec.start_time is None or not rec.node_list:
            continue
        rows.append(SacctRow(rec, shown, "batch", now))
        if extern:
            rows.append(SacctRow(rec, shown, "extern", now))
    return rows


def _show(opts, present, last, fields, wanted, start_after) -> int:  # noqa: ANN001
    from clustrix_sim.controller import protocol
    from clustrix_sim.slurm.common import call, current_user, load_records, partition_of
    from clustrix_sim.slurm.sacct_fields import format_lines

    user, uid = current_user()
    base_ids = sorted({j for j, _ in wanted}) if wanted else None
    try:
        result = call("accounting", "sacct", {"job_ids": base_ids, "user": None})
        info = call("info", "sacct", {})
        now = result.get("now", info["now"])
        extern = "contain" in str(info.get("prolog_flags", "")).lower()
    except protocol.RequestRefused as exc:
        if exc.kind == "accounting_disabled":
            sys.stderr.write("Slurm accounting storage is disabled\n")
            return 1
        _err(exc.message or exc.kind)
        return 1
    records = load_records(result)

    if wanted is not None:
        def selected(rec) -> bool:  # noqa: ANN001
            for job, task in wanted:
                if task is None and job in (rec.job_id, rec.array_job_id):
                    return True
                if task is not None and rec.array_job_id == job and rec.array_task_id == task:
                    return True
            return False

        records = [r for r in records if selected(r)]
    threshold = start_after
    if threshold is None and wanted is None:
        # Without -j (and -S), sacct starts at midnight today of the simulated clock.
        threshold = time.mktime(time.localtime(float(now))[:3] + (0, 0, 0, 0, 0, -1))
    if threshold is not None:  # a time window: jobs never eligible are in none (no -j, no row)
        records = [r for r in records if (r.end_time is None or r.end_time >= threshold)
                   and r.eligible_time is not None]

    users = None
    if "user" in present:
        users = set((last["user"] or "").split(","))
    elif "allusers" not in present and wanted is None:
        users = {user, str(uid)}
    if users is not None:
        records = [r for r in records if r.request.user in users or str(r.request.uid) in users]
    if "partition" in present:
        parts = set((last["partition"] or "").split(","))
        records = [r for r in records if partition_of(r) in parts]
    if "name" in present:
        names = set((last["name"] or "").split(","))
        records = [r for r in records if r.request.name in names]
    if "state" in present:
        from clustrix_sim.slurm.states import InvalidState, parse_state_list

        try:
            states = parse_state_list(last["state"] or "")
        except InvalidState as exc:
            _err(f"Invalid state: {exc}")
            return 1
        if states is not None:
            records = [r for r in records if r.state in states]

    records.sort(key=accounting_order)
    rows = rows_for(records, float(now), "allocations" in present, extern, "array" in present)
    parsable = "P" if "parsable2" in present else ("p" if "parsable" in present else None)
    sys.stdout.write(format_lines(rows, fields, header="noheader" not in present,
                                  parsable=parsable, delimiter=last.get("delimiter")))
    return 0
