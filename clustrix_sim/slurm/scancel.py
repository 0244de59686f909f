"""``scancel``: cancel or signal jobs, with the two error paths of the real tool (§1.6).

- Only ids, default signal: ``_signal_job_by_str`` path; unknown/finished ids are silent, rc 0.
- A filter or ``--signal``: the job list is loaded first; an id not among the active jobs gives
  ``Kill job error on job id N: Invalid job id specified`` and rc 1 (``-Q`` hides the text).
"""

from __future__ import annotations

import re
import sys

from clustrix_sim.slurm.options import table

OPTIONS = table("""
    account A account :
    batch b batch -
    ctld c ctld -
    full f full -
    help . help -
    hurry H hurry -
    interactive i interactive -
    clusters M clusters|cluster :
    name n name|jobname :
    partition p partition :
    qos q qos :
    quiet Q quiet -
    reservation R reservation :
    signal s signal :
    state t state :
    user u user :
    usage . usage -
    verbose v verbose -
    version V version -
    nodelist w nodelist :
    wckey . wckey :
    me . me -
    sibling . sibling :
""")

STATUS_TEXT = {
    "invalid_job_id": "Invalid job id specified",
    "already_done": "Job/step already completing or completed",
    "job_pending": "Job is pending execution",
    "not_pending": "Job is no longer pending execution",
    "not_requeueable": "Requested operation is presently disabled",
}
_ID = re.compile(r"^(\d+)(?:_(\d+|\*|\[[\d,\-]+\]))?(?:\.(\d+|batch|extern))?$")


def _err(text: str) -> None:
    sys.stderr.write(f"scancel: error: {text}\n")


def parse_signal(text: str) -> int:
    """``USR2``, ``SIGUSR2``, ``12`` -> 12; raises ValueError for anything else."""
    from clustrix_sim.slurm.sbatch_values import SIGNALS

    if text.isdigit() and 0 < int(text) < 65:
        return int(text)
    name = text.upper().removeprefix("SIG")
    if name in SIGNALS:
        return SIGNALS[name]
    raise ValueError(text)


def parse_targets(ids: list[str]) -> list[tuple[str, int, int | None]]:
    """Expand id arguments into ``(text shown in messages, job id, task or None)``."""
    out: list[tuple[str, int, int | None]] = []
    for raw in ids:
        for item in raw.split(","):
            if not item:
                continue
            match = _ID.match(item)
            if not match:
                raise ValueError(item)
            job, task = int(match.group(1)), match.group(2)
            if task is None or task == "*":
                out.append((f"{job}" if task is None else f"{job}_*", job, None))
            elif task.startswith("["):
                from clustrix_sim.slurm.sbatch_values import parse_array

                try:
                    indices, _ = parse_array(task[1:-1])
                except ValueError:
                    raise ValueError(item) from None
                out.extend((f"{job}_{i}", job, i) for i in indices)
            else:
                out.append((item.split(".")[0], job, int(task)))
    return out


_USAGE = ("Usage: scancel [-A account] [--batch] [--full] [--interactive] "
          "[-n job_name]\n               [-p partition] [-Q] [-q qos] "
          "[-R reservation][-s signal | integer]\n               [-t PENDING | "
          "RUNNING | SUSPENDED] [--usage] [-u user_name]\n               [--hurry]"
          " [-V] [-v] [-w hosts...] [--wckey=wckey] [job_id[_array_id][.step_id]]\n")


def main(argv: list[str]) -> int:
    """Run scancel with ``argv``; returns the exit code."""
    from clustrix_sim.slurm.common import parse_tool_args

    parsed = parse_tool_args(argv, OPTIONS, "scancel", _USAGE)
    if isinstance(parsed, int):
        return parsed
    positionals, present, last = parsed.positionals, parsed.present, parsed.last
    signal = None
    if "signal" in present:
        try:
            signal = parse_signal(last["signal"] or "")
        except ValueError:
            _err(f"Invalid job signal: {last['signal']}")
            return 1
        if signal == 9:
            signal = None  # SIGKILL is plain cancellation
    try:
        targets = parse_targets(positionals)
    except ValueError as exc:
        _err(f"Invalid job id {exc}")
        return 1
    filters = present & {"account", "name", "partition", "qos", "reservation", "state", "user",
                         "nodelist", "wckey", "me"}
    if not targets and not filters:
        _err("No job identification provided")
        return 1
    return _run(targets, filters, last, signal, present)


def _filtered(records, filters, last):  # noqa: ANN001, ANN202
    from clustrix_sim.slurm.common import current_user, partition_of
    from clustrix_sim.slurm.hostlist import expand
    from clustrix_sim.slurm.states import parse_state_list

    def split(key: str) -> set[str]:
        return {x for x in (last[key] or "").split(",") if x}

    out = []
    states = parse_state_list(last["state"]) if "state" in filters else None
    for rec in records:
        req = rec.request
        if "user" in filters and req.user not in split("user") and str(req.uid) not in split("user"):
            continue
        if "me" in filters and req.uid != current_user()[1]:
            continue
        if "name" in filters and req.name not in split("name"):
            continue
        if "partition" in filters and partition_of(rec) not in split("partition"):
            continue
        if "account" in filters and (req.account or "") not in split("account"):
            continue
        if "qos" in filters and (req.qos or "normal") not in split("qos"):
            continue
        if "wckey" in filters and (req.wckey or "") not in split("wckey"):
            continue
        if states is not None and rec.state not in states:
            continue
        if "nodelist" in filters and not set(expand(last["nodelist"] or "")) & set(rec.node_list):
            continue
        out.append(rec)
    return out


def _run(targets, filters, last, signal, present) -> int:  # noqa: ANN001
    from clustrix_sim.controller import protocol
    from clustrix_sim.engine.model import ACTIVE_STATES
    from clustrix_sim.slurm.common import call, current_user, load_records

    quiet = "quiet" in present
    verbose = "verbose" in present
    scope = "batch" if "batch" in present else ("full" if "full" in present else "steps")
    _, uid = current_user()
    rc = 0
    try:
        if filters or signal is not None:
            # The filter/signal path loads the job list first (scancel's _load_job_records).
            active = [r for r in load_records(call("jobs", "scancel", {
                "job_ids": sorted({j for _, j, _ in targets}) or None,
                "include_finished": False})) if r.state in ACTIVE_STATES]
            if filters:
                active = _filtered(active, filters, last)
            chosen: list[tuple[str, int, int | None]] = []
            if targets:
                for text, job, task in targets:
                    hit = [r for r in active if (task is None and job in (r.job_id, r.array_job_id))
                           or (task is not None and r.array_job_id == job
                               and r.array_task_id == task)]
                    if not hit:
                        if not quiet:
                            _err(f"Kill job error on job id {text}: Invalid job id specified")
                        rc = 1
                        continue
                    chosen.append((text, job, task))
            else:
                seen: set[tuple[int, int | None]] = set()
                for rec in active:
                    key = ((rec.array_job_id, rec.array_task_id) if rec.array_job_id is not None
                           else (rec.job_id, None))
                    if key in seen:
                        continue
                    seen.add(key)
                    text = f"{key[0]}_{key[1]}" if key[1] is not None else str(key[0])
                    chosen.append((text, key[0], key[1]))
            strict = True
        else:
            chosen, strict = targets, False
        if not chosen:
            return rc
        params = {"targets": [{"job_id": j, "task": t} for _, j, t in chosen],
                  "signal": signal, "uid": uid}
        if signal is not None:
            params["scope"] = scope
        results = call("signal", "scancel", params).get("results", [])
    except protocol.ControllerUnavailable:
        _err("Kill job error on job id: Unable to contact slurm controller (connect failure)")
        return 1
    for (text, _, _), result in zip(chosen, results, strict=False):
        status = result.get("status", "ok")
        if verbose:  # said before the request, whatever its answer
            if signal is None:
                sys.stderr.write(f"scancel: Terminating job {text}\n")
            else:
                sys.stderr.write(f"scancel: Signal {signal} to job {text}\n")
        if status == "ok":
            continue
        if not strict and status in ("invalid_job_id", "already_done"):
            if verbose and not quiet:  # -v shows the error, and the exit code stays 0
                _err(f"Kill job error on job id {text}: {STATUS_TEXT.get(status, status)}")
            continue
        if not quiet:
            _err(f"Kill job error on job id {text}: {STATUS_TEXT.get(status, status)}")
        rc = 1
    return rc
