"""``squeue``: list queued/running jobs from the controller in squeue's exact layouts."""

from __future__ import annotations

import re
import sys

from clustrix_sim.slurm.options import table

OPTIONS = table("""
    account A account :
    all a all -
    array r array -
    noheader h noheader -
    help . help -
    hide . hide -
    iterate i iterate :
    jobs j jobs ?
    long l long -
    licenses L licenses :
    clusters M clusters :
    me . me -
    name n name :
    noconvert . noconvert -
    format o format :
    Format O Format :
    partition p partition :
    priority P priority -
    qos q qos :
    reservation R reservation :
    steps s steps ?
    sort S sort :
    start . start -
    states t states :
    user u user :
    usage . usage -
    verbose v verbose -
    version V version -
    nodelist w nodelist :
    json . json ?
    yaml . yaml ?
    local . local -
    sibling . sibling -
    federation . federation -
    only-job-state . only-job-state -
""")

DEFAULT_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
ONLY_STATE_FORMAT = "%.18i %.2t"  # --only-job-state without a format (24.11 measured)
LONG_FORMAT = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
_JOB = re.compile(r"^(\d+)(?:_(\d+|\[[\d,\-%:]+\]|\*))?$")


def _err(text: str) -> None:
    sys.stderr.write(f"squeue: error: {text}\n")


def parse_job_list(text: str) -> list[tuple[int, int | None]]:
    """``123,123_4`` -> [(123, None), (123, 4)]; ``123_[1-3]`` selects the whole array."""
    out: list[tuple[int, int | None]] = []
    for item in text.replace(" ", ",").split(","):
        if not item:
            continue
        match = _JOB.match(item)
        if not match:
            raise ValueError(f"Invalid job id: {item}")
        task = match.group(2)
        out.append((int(match.group(1)), int(task) if task and task.isdigit() else None))
    return out


def _user_filter(text: str) -> set[str]:
    import pwd

    names: set[str] = set()
    for item in text.split(","):
        if not item:
            continue
        if item.isdigit():
            try:
                names.add(pwd.getpwuid(int(item)).pw_name)
            except KeyError:
                names.add(item)
            continue
        try:
            pwd.getpwnam(item)
        except KeyError:
            raise ValueError(f"Invalid user: {item}") from None
        names.add(item)
    return names


def sort_key(spec: str | None):  # noqa: ANN202 - returns a key function
    from clustrix_sim.slurm.common import partition_of, shown_priority
    from clustrix_sim.slurm.states import state_order

    def base(rec) -> tuple:  # noqa: ANN001
        return (rec.job_id if rec.array_job_id is None else rec.array_job_id,
                rec.array_task_id if rec.array_task_id is not None else -1)

    def newest_first(rec) -> tuple:  # noqa: ANN001
        # slurmctld's job list is newest first and squeue's sort is stable; an array's tasks
        # that never started are still the array's own record, listed by task
        unsplit = rec.array_job_id is not None and not rec.node_list
        return (-(rec.array_job_id if unsplit else rec.job_id), base(rec)[1])

    if not spec:
        return lambda rec: (partition_of(rec), state_order(rec.state), -shown_priority(rec), newest_first(rec))
    getters = {
        "i": base, "A": base, "P": partition_of, "t": lambda r: state_order(r.state),
        "T": lambda r: r.state, "p": shown_priority, "Q": shown_priority,
        "u": lambda r: r.request.user, "j": lambda r: r.request.name,
        "V": lambda r: r.submit_time, "S": lambda r: r.start_time or 0.0,
        "M": lambda r: (r.end_time or 0.0) - (r.start_time or 0.0),
    }
    keys = []
    for item in spec.split(","):
        desc = item.startswith("-")
        letter = item.lstrip("+-")[:1]
        if letter in getters:
            keys.append((getters[letter], desc))

    def key(rec) -> tuple:  # noqa: ANN001
        parts = []
        for get, desc in keys:
            value = get(rec)
            if desc and isinstance(value, (int, float)):
                value = -value
            parts.append(value)
        parts.append(base(rec))
        return tuple(parts)

    return key


_USAGE = ("Usage: squeue [-A account] [--clusters names] [-i seconds] [--job jobid]\n"
          "              [-n name] [-o format] [-p partitions] [--qos qos]\n"
          "              [--reservation reservation] [--sort fields] [--start]\n"
          "              [--step step_id] [-t states] [-u user_name] [--usage]\n"
          "              [-L licenses] [-w nodes] [--federation] [--local]\n"
          "              [--sibling] [--me] [-ahjlrsv]\n")


def main(argv: list[str]) -> int:
    """Run squeue with ``argv``; returns the exit code."""
    from clustrix_sim.slurm.common import parse_tool_args

    parsed = parse_tool_args(argv, OPTIONS, "squeue", _USAGE)
    if isinstance(parsed, int):
        return parsed
    positionals, present = parsed.positionals, parsed.present
    values: dict[str, str | None] = parsed.last

    jobs_text: str | None = None
    if "jobs" in present:
        jobs_text = values["jobs"]
        if jobs_text is None and positionals:
            jobs_text = positionals.pop(0)  # "-j 123": squeue's positional fallback
    if positionals:
        _err(f"Unrecognized option: {positionals[0]}")
        sys.stderr.write("Usage: squeue [-A account] [--clusters names] [-i seconds] [--job jobid]\n")
        return 1

    from clustrix_sim.slurm.states import ACTIVE, InvalidState, parse_state_list

    try:
        wanted_jobs = parse_job_list(jobs_text) if jobs_text else None
        states = parse_state_list(values["states"] or "") if "states" in present else ACTIVE
        users = _user_filter(values["user"] or "") if "user" in present else None
    except InvalidState as exc:
        _err(f"Invalid job state specified: {exc}")
        return 1
    except ValueError as exc:
        _err(str(exc))
        return 1

    return _show(values, present, wanted_jobs, states, users)


def _show(values, present, wanted_jobs, states, users) -> int:  # noqa: ANN001
    from clustrix_sim.controller import protocol
    from clustrix_sim.slurm import squeue_fields as sf
    from clustrix_sim.slurm.common import (
        call,
        current_user,
        group_pending_tasks,
        job_display_id,
        load_records,
        partition_of,
    )
    from clustrix_sim.slurm.hostlist import expand
    from clustrix_sim.slurm.timefmt import clock_str

    base_ids = sorted({j for j, _ in wanted_jobs}) if wanted_jobs else None
    try:
        # a finished job named with -j is known (no "Invalid job id") but shown only with -t
        finished = wanted_jobs is not None or states is None or bool(
            states - {"PENDING", "RUNNING", "SUSPENDED", "COMPLETING"})
        result = call("jobs", "squeue", {"job_ids": base_ids, "include_finished": finished})
        now = result.get("now")
        if now is None:
            now = call("info", "squeue", {})["now"]
    except protocol.ControllerUnavailable:
        sys.stderr.write("slurm_load_jobs error: Unable to contact slurm controller "
                         "(connect failure)\n")
        return 1
    records = [r for r in load_records(result) if r.visible_in_queue]

    if wanted_jobs is not None:
        def selected(rec) -> bool:  # noqa: ANN001
            for job, task in wanted_jobs:
                if task is None and job in (rec.job_id, rec.array_job_id):
                    return True
                if task is not None and rec.array_job_id == job and rec.array_task_id == task:
                    return True
                if task is not None and rec.job_id == job and rec.array_job_id is None:
                    return False
            return False

        records = [r for r in records if selected(r)]
        if len(wanted_jobs) == 1 and not records:
            sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
            return 1
    if states is not None:
        records = [r for r in records if r.state in states]
    if users is not None:
        records = [r for r in records if r.request.user in users]
    if "me" in present:
        _, uid = current_user()
        records = [r for r in records if r.request.uid == uid]
    if "partition" in present:
        parts = set((values["partition"] or "").split(","))
        records = [r for r in records if partition_of(r) in parts]
    if "name" in present:
        names = set((values["name"] or "").split(","))
        records = [r for r in records if r.request.name in names]
    if "account" in present:
        accounts = {a.lower() for a in (values["account"] or "").split(",")}
        records = [r for r in records if (r.request.account or "").lower() in accounts]
    if "qos" in present:
        qos = {q.lower() for q in (values["qos"] or "").split(",")}
        records = [r for r in records if (r.request.qos or "normal").lower() in qos]
    if "nodelist" in present:
        try:
            hosts = set(expand(values["nodelist"] or ""))
        except ValueError:
            hosts = set()
        records = [r for r in records if hosts.intersection(r.node_list)]

    records.sort(key=sort_key(values.get("sort")))
    if "array" in present:
        pairs = [(r, job_display_id(r)) for r in records]
    else:
        pairs = group_pending_tasks(records)
    rows = [sf.Row(rec, shown, float(now)) for rec, shown in pairs]

    warnings: list[str] = []
    if "Format" in present:
        fields = sf.parse_long_format(values["Format"] or "", warnings.append)
    elif "format" in present:
        fields = sf.parse_format(values["format"] or "", warnings.append)
    elif "long" in present:
        fields = sf.parse_format(LONG_FORMAT, warnings.append)
    elif "only-job-state" in present:  # 24.11: slurmctld sends ids and states only
        fields = sf.parse_format(ONLY_STATE_FORMAT, warnings.append)
    else:
        import os

        env_fmt = os.environ.get("SQUEUE_FORMAT2") or None
        fields = (sf.parse_long_format(env_fmt, warnings.append) if env_fmt
                  else sf.parse_format(os.environ.get("SQUEUE_FORMAT") or DEFAULT_FORMAT,
                                       warnings.append))
    for line in warnings:
        _err(line)
    out = sf.render(rows, fields, header="noheader" not in present)
    if "long" in present and "format" not in present and "Format" not in present:
        out = clock_str(float(now)) + "\n" + out
    sys.stdout.write(out)
    return 0
