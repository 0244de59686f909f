"""``qacct -j [id|name]``: the accounting record of every finished run, one block per task.

Keys are ``%-13.12s``; most values ``%-20s``; ``failed`` is ``%-3u %s %s`` (``37  : qmaster
enforced h_rt, h_cpu, or h_vmem limit``, ``100 : assumedly after job`` for qdel); a kill shows
``exit_status`` 137 then ``(Killed)``. A job that never started has no record. An unknown job:
``error: job id 123 not found`` on stderr, exit 1 (real 8.1.9, ``tests/data/sge_real/``).
"""

from __future__ import annotations

import sys

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.sge.common import call, ctime_date, err, job_number, load_records, slots_of

__all__ = ["block", "failed_and_exit", "main"]

FAILED_TEXT = {
    0: "", 1: "assumedly before job", 26: "opening output file", 37: "qmaster enforced h_rt, h_cpu, or h_vmem limit",
    100: "assumedly after job",
}
SIGNAL_NAMES = {9: "Killed", 15: "Terminated", 6: "Aborted", 11: "Segmentation fault", 2: "Interrupt"}


def failed_and_exit(rec: JobRecord) -> tuple[int, int]:
    """(failed code, exit_status) the way execd and qmaster record how the run ended."""
    if rec.state == "TIMEOUT" or rec.state == "OUT_OF_MEMORY":
        return 37, 137
    if rec.state == "CANCELLED":
        return 100, 128 + (rec.exit_signal or 9)
    if rec.state == "FAILED" and rec.reason == "JobLaunchFailure":
        return 26, 1
    if rec.exit_signal:
        return 0, 128 + rec.exit_signal
    return 0, rec.exit_code


def memory_text(size_bytes: float) -> str:
    """qacct's memory figures: ``0.000B``, ``30.409KB``, ``3.102MB``, ``1.950GB``."""
    for unit in ("B", "KB", "MB"):
        if size_bytes < 1024:
            return f"{size_bytes:.3f}{unit}"
        size_bytes /= 1024
    return f"{size_bytes:.3f}GB"


def _kv(key: str, value: object, pad: bool = True) -> str:
    text = f"{value!s:<20}" if pad else str(value)
    return f"{key[:12]:<13}{text}"


def block(rec: JobRecord, host: str) -> str:
    req = rec.request
    failed, status = failed_and_exit(rec)
    failed_text = FAILED_TEXT.get(failed, "")
    exit_line = _kv("exit_status", status)
    if status > 128 and (status - 128) in SIGNAL_NAMES:
        exit_line += f" ({SIGNAL_NAMES[status - 128]})"
    wall = max(int((rec.end_time or 0) - (rec.start_time or 0)), 0)
    task = _kv("taskid", rec.array_task_id) if rec.array_task_id is not None else _kv("taskid", "undefined", False)
    pe = req.flavor_options.get("pe") or "NONE"
    lines = ["=" * 62, _kv("qname", (req.partition or "all.q").split(",")[0]), _kv("hostname", host),
             _kv("group", req.user), _kv("owner", req.user), _kv("project", req.flavor_options.get("project", "NONE")),
             _kv("department", "defaultdepartment"), _kv("jobname", req.name), _kv("jobnumber", job_number(rec)),
             task, _kv("account", req.account or "sge"), _kv("priority", 0),
             _kv("qsub_time", ctime_date(rec.submit_time), False), _kv("start_time", ctime_date(rec.start_time), False),
             _kv("end_time", ctime_date(rec.end_time), False), _kv("granted_pe", pe), _kv("slots", slots_of(rec)),
             f"{'failed':<13}{failed:<3} {':' if failed_text else ''} {failed_text}", exit_line, _kv("ru_wallclock", f"{wall}s", False)]
    rss_kb = rec.max_rss_mb * 1024
    lines += [_kv("ru_utime", "0.000s", False), _kv("ru_stime", "0.000s", False),
              _kv("ru_maxrss", memory_text(rss_kb * 1024), False)]
    lines += [_kv(k, "0.000B", False) for k in ("ru_ixrss", "ru_ismrss", "ru_idrss", "ru_isrss")]
    lines += [_kv(k, 0) for k in ("ru_minflt", "ru_majflt", "ru_nswap", "ru_inblock", "ru_oublock", "ru_msgsnd",
                                  "ru_msgrcv", "ru_nsignals", "ru_nvcsw", "ru_nivcsw")]
    lines += [_kv("cpu", "0.000s", False), _kv("mem", "0.000Bs", False), _kv("io", "0.000B", False),
              _kv("iow", "0.000s", False), _kv("maxvmem", memory_text(rec.max_rss_mb * 1024 * 1024), False),
              _kv("arid", "undefined", False), _kv("ar_sub_time", "undefined", False),
              _kv("category", req.flavor_options.get("category", "NONE"), False)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    from clustrix_sim.controller import protocol

    if len(argv) < 2 or argv[0] != "-j":
        err("usage: qacct -j [job_id|job_name|pattern]  (only -j is simulated)")
        return 1
    wanted = argv[1]
    try:
        records = load_records(call("accounting", "qacct", {"job_ids": None}))
    except protocol.InjectedFault as exc:
        sys.stdout.write(exc.stdout)
        err(exc.stderr)
        return exc.rc
    except protocol.RequestRefused:
        records = []
    except protocol.ControllerUnavailable:
        records = []
    done = [r for r in records if r.end_time is not None and r.start_time is not None
            and r.state not in ("PENDING", "RUNNING", "COMPLETING", "SUSPENDED")
            and (str(job_number(r)) == wanted or r.request.name == wanted)]
    if not done:
        err(f"error: job id {wanted} not found" if wanted.isdigit() else f"error: job name {wanted} not found")
        return 1
    done.sort(key=lambda r: (r.end_time or 0, job_number(r), r.array_task_id or 0))
    for rec in done:
        sys.stdout.write(block(rec, rec.node_list[0] if rec.node_list else "localhost"))
    return 0
