"""What a Grid Engine job sees when it starts: its environment and where its output goes.

Matches a real 8.1.9 job (``tests/data/sge_real/jobenv.txt``): ``JOB_ID``, ``JOB_NAME``,
``SGE_TASK_ID`` and its FIRST/LAST/STEPSIZE (``undefined`` outside arrays), ``NSLOTS``,
``NHOSTS``, ``QUEUE``, ``PE_HOSTFILE`` (with a PE), ``TMP`` and ``TMPDIR``, ``SGE_O_*``...
Output defaults to ``<name>.o<job>[.<task>]`` in the job's working directory (the home
directory unless ``-cwd``/``-wd``); ``-o``/``-e`` expand ``$HOME $USER $JOB_ID $JOB_NAME
$HOSTNAME $TASK_ID``, name a directory or a file, and are relative to that working directory.

The controller imports this lazily; it stays pure: records in, strings out.
"""

from __future__ import annotations

import os
import re

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.sge import site

__all__ = ["job_env", "output_paths", "task_bounds"]

_PSEUDO = re.compile(r"\$(HOME|USER|JOB_ID|JOB_NAME|HOSTNAME|TASK_ID)")


def task_bounds(record: JobRecord) -> tuple[str, str, str, str]:
    """SGE_TASK_ID, _FIRST, _LAST, _STEPSIZE (all ``undefined`` for a plain job)."""
    opts = record.request.flavor_options
    if record.array_task_id is None or "task_first" not in opts:
        return ("undefined",) * 4  # type: ignore[return-value]
    return (str(record.array_task_id), str(opts["task_first"]), str(opts["task_last"]),
            str(opts["task_step"]))


def _expand(pattern: str, record: JobRecord) -> str:
    req = record.request
    home = str(req.flavor_options.get("home") or os.path.expanduser("~"))
    task = str(record.array_task_id) if record.array_task_id is not None else "undefined"
    values = {"HOME": home, "USER": req.user, "JOB_ID": str(record.array_job_id or record.job_id),
              "JOB_NAME": req.name, "HOSTNAME": record.node_list[0] if record.node_list else "",
              "TASK_ID": task}
    return _PSEUDO.sub(lambda m: values[m.group(1)], pattern)


def _resolve(pattern: str | None, kind: str, record: JobRecord) -> str:
    req = record.request
    job = record.array_job_id or record.job_id
    default = f"{req.name}.{kind}{job}" + (f".{record.array_task_id}" if record.array_task_id is not None else "")
    if not pattern:
        return os.path.join(req.work_dir, default)
    path = os.path.join(req.work_dir, _expand(pattern, record))
    return os.path.join(path, default) if os.path.isdir(path) else path


def output_paths(record: JobRecord) -> tuple[str, str]:
    """Absolute (stdout, stderr) paths; ``-j y`` sends stderr into stdout."""
    req = record.request
    out = _resolve(req.stdout_pattern, "o", record)
    if req.flavor_options.get("join"):
        return out, out
    return out, _resolve(req.stderr_pattern, "e", record)


def job_env(record: JobRecord, cluster_name: str) -> dict[str, str]:
    """The variables sge_execd sets (merged by the controller over the job's own environment)."""
    req = record.request
    opts = req.flavor_options
    job = str(record.array_job_id or record.job_id)
    task = record.array_task_id if record.array_task_id is not None else 1
    queue = (req.partition or site.DEFAULT_QUEUE).split(",")[0]
    host = record.node_list[0] if record.node_list else ""
    slots = str(record.alloc_cpus or max(req.cpus_per_task, 1))
    tmp = f"/tmp/{job}.{task}.{queue}"  # noqa: S108 - where sge_execd makes it (tmpdir /tmp)
    task_id, first, last, step = task_bounds(record)
    out, err = output_paths(record)
    home = str(opts.get("home") or "")
    env = {
        "ARC": site.ARCH, "ENVIRONMENT": "BATCH", "HOME": home, "HOSTNAME": host, "JOB_ID": job,
        "JOB_NAME": req.name, "JOB_SCRIPT": str(opts.get("job_script") or req.name),
        "LOGNAME": req.user, "NHOSTS": "1", "NQUEUES": "1", "NSLOTS": slots, "QUEUE": queue,
        "REQNAME": req.name, "REQUEST": req.name, "RESTARTED": str(min(record.restart_count, 1)),
        "SGE_ACCOUNT": req.account or "sge", "SGE_ARCH": site.ARCH,
        "SGE_BINARY_PATH": f"/usr/sbin/{site.ARCH}", "SGE_CELL": site.SGE_CELL,
        "SGE_CWD_PATH": req.work_dir, "SGE_JOB_SPOOL_DIR": f"/var/spool/gridengine/execd/{host}/active_jobs/{job}.{task}",
        "SGE_O_HOME": home, "SGE_O_HOST": req.submit_host, "SGE_O_LOGNAME": req.user,
        "SGE_O_PATH": str(opts.get("o_path") or ""), "SGE_O_WORKDIR": str(opts.get("submit_dir") or req.work_dir),
        "SGE_ROOT": site.SGE_ROOT, "SGE_STDERR_PATH": err, "SGE_STDIN_PATH": "/dev/null",
        "SGE_STDOUT_PATH": out, "SGE_TASK_FIRST": first, "SGE_TASK_ID": task_id,
        "SGE_TASK_LAST": last, "SGE_TASK_STEPSIZE": step, "SHELL": req.shell or site.QUEUE_SHELL,
        "TERM": "", "TMP": tmp, "TMPDIR": tmp, "USER": req.user,
    }
    if opts.get("o_shell"):
        env["SGE_O_SHELL"] = str(opts["o_shell"])
    if opts.get("pe"):
        env["PE"] = str(opts["pe"])
        env["PE_HOSTFILE"] = f"/var/spool/gridengine/execd/{host}/active_jobs/{job}.{task}/pe_hostfile"
    if not opts.get("export_all"):
        env["PATH"] = site.JOB_PATH
    return env
