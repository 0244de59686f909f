"""Turn sbatch's merged option list into a JobRequest dict (and wait for ``--wait``).

The request is built as the wire dict (``clustrix_sim.engine.model.JobRequest.to_dict`` shape; the
controller's ``from_dict`` fills defaults) so sbatch never imports the model's dataclasses: its
startup time is measured.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from clustrix_sim.slurm import sbatch_values as values
from clustrix_sim.slurm.timefmt import INFINITE, time_str2mins

__all__ = ["build_request", "wait_for_job"]

_STRINGS = {
    "partition": "partition", "account": "account", "qos": "qos", "wckey": "wckey",
    "comment": "comment", "constraint": "constraint",
}
# Options whose value the simulator keeps for display but does not model.
_KEPT = ("reservation", "nodelist", "exclude", "begin", "licenses", "mail-type", "mail-user",
         "nice", "priority", "distribution", "hint", "tmp", "mincpus", "gpus-per-task")


def _path_option(value: str) -> str:
    # sbatch maps "none" (any case) to /dev/null for -o/-e/-i.
    return "/dev/null" if value.lower() == "none" else value


def build_request(
    options: list[tuple[str, str | None]],
    *,
    script: str,
    script_path: str | None,
    script_args: list[str],
    wrap: bool,
    environ: dict[str, str] | None = None,
    cwd: str | None = None,
) -> tuple[dict, dict]:
    """Apply options in order (later wins) and build the request.

    Returns ``(request, extras)`` where extras holds client-side switches (parsable, quiet, wait,
    clusters, test_only). Raises ValueError with Slurm's error text for a bad value.
    """
    from clustrix_sim.slurm.common import current_user

    environ = dict(os.environ if environ is None else environ)
    cwd = cwd or os.getcwd()
    user, uid = current_user()
    extras: dict = {}
    fields: dict = {}
    kept: dict = {}
    name: str | None = None
    work_dir = cwd
    nodes_set = ntasks_set = False
    ntasks_per_node: int | None = None
    export: str | None = None
    gpus = 0

    for key, raw in options:
        value = "" if raw is None else raw
        if key in _STRINGS:
            fields[_STRINGS[key]] = value
        elif key == "job-name":
            name = value
        elif key == "nodes":
            fields["nodes"], _ = values.parse_nodes(value)
            nodes_set = True
        elif key == "ntasks":
            fields["ntasks"] = values.parse_int(value, "number of tasks")
            ntasks_set = True
        elif key == "ntasks-per-node":
            ntasks_per_node = values.parse_int(value, "ntasks-per-node")
        elif key == "cpus-per-task":
            fields["cpus_per_task"] = values.parse_int(value, "cpus-per-task")
            kept["tres-per-task"] = f"cpu={fields['cpus_per_task']}"  # 24.11's scontrol shows it
        elif key == "mem":
            fields["mem_mb"] = values.parse_mem_mb(value, "--mem")
            fields["mem_per_cpu_mb"] = None
        elif key == "mem-per-cpu":
            fields["mem_per_cpu_mb"] = values.parse_mem_mb(value, "--mem-per-cpu")
            fields["mem_mb"] = None
        elif key == "time":
            minutes = time_str2mins(value)
            if minutes is None:
                raise ValueError("Invalid --time specification")
            fields["time_limit_s"] = 0 if minutes in (0, INFINITE) else minutes * 60
        elif key == "output":
            fields["stdout_pattern"] = _path_option(value)
        elif key == "error":
            fields["stderr_pattern"] = _path_option(value)
        elif key == "open-mode":
            if value[:1].lower() == "a":
                fields["open_mode"] = "append"
            elif value[:1].lower() == "t":
                fields["open_mode"] = "truncate"
            else:
                sys.stderr.write(f"sbatch: error: Invalid --open-mode argument: {value}. Ignored\n")
        elif key == "array":
            indices, throttle = values.parse_array(value)
            fields.update(array_indices=indices, array_max_parallel=throttle, array_text=value)
        elif key == "dependency":
            clauses, any_of = values.parse_dependency(value)
            fields.update(dependencies=clauses, dependency_any=any_of, dependency_text=value)
        elif key == "export":
            export = value
        elif key == "chdir":
            work_dir = value
        elif key == "signal":
            fields["signal"] = values.parse_signal(value)
        elif key == "requeue":
            fields["requeue"] = True
        elif key == "no-requeue":
            fields["requeue"] = False
        elif key == "exclusive":
            fields["exclusive"] = True
        elif key == "hold":
            fields["hold"] = True
        elif key in ("gpus", "gpus-per-node"):
            gpus = values.parse_gpus(value)
            kept[key] = value
        elif key == "gres":
            gpus = values.parse_gres_gpus(value) or gpus
            kept[key] = value
        elif key in ("parsable", "quiet", "wait"):
            extras[key] = True
        elif key == "test-only":
            extras["test_only"] = True
        elif key == "clusters":
            extras["clusters"] = value
        elif key in _KEPT:
            kept[key] = value

    if not os.path.isabs(work_dir):
        work_dir = os.path.normpath(os.path.join(cwd, work_dir))
    if ntasks_per_node and not ntasks_set:
        fields["ntasks"] = fields.get("nodes", 1) * ntasks_per_node
    elif nodes_set and not ntasks_set:
        fields["ntasks"] = max(fields.get("nodes", 1), 1)
    if name is None:
        if wrap:
            name = "wrap"
        elif script_path and script_path != "-":
            name = os.path.basename(script_path)
        else:
            name = "sbatch"
    if gpus and fields.get("nodes", 1) > 1 and "gpus-per-node" in kept:
        gpus *= fields.get("nodes", 1)
    if ntasks_per_node:
        kept["ntasks-per-node"] = ntasks_per_node
    kept["submit_dir"] = cwd
    kept["submit_sid"] = os.getsid(0)  # scontrol's AllocNode:Sid

    request = dict(
        script=script,
        name=name,
        user=user,
        uid=uid,
        work_dir=work_dir,
        script_path=os.path.abspath(script_path) if script_path and script_path != "-" else None,
        script_args=list(script_args),
        gpus=gpus,
        env=values.build_export_env(export, environ),
        submit_host=socket.gethostname().split(".")[0],
        flavor_options=kept,
        **fields,
    )
    return request, extras


def wait_for_job(job_id: int, *, poll_s: float = 0.1) -> int:
    """``--wait``: block until every task of the job is final; exit with the highest exit code
    (Slurm's rule for arrays), or 1 for a job that ended without running (cancelled)."""
    from clustrix_sim.engine.model import FINAL_STATES
    from clustrix_sim.slurm.common import call, load_records  # records: dataclasses are fine here

    while True:
        records = load_records(call("jobs", "sbatch", {"job_ids": [job_id],
                                                       "include_finished": True}))
        if not records:
            try:
                records = load_records(call("accounting", "sbatch", {"job_ids": [job_id]}))
            except Exception:  # noqa: BLE001 - accounting off: nothing more to learn
                return 0
        if records and all(r.state in FINAL_STATES for r in records):
            worst = max(records, key=lambda r: (r.exit_code, r.exit_signal))
            if worst.exit_code:
                return worst.exit_code
            if worst.exit_signal or any(r.state != "COMPLETED" for r in records):
                return 1 if not worst.exit_signal else (128 + worst.exit_signal) & 0xFF
            return 0
        time.sleep(poll_s)
