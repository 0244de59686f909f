"""``qsub``: submit a script (or, with ``-b y``, a command) as a Grid Engine job.

Prints ``Your job 123 ("name") has been submitted`` (``Your job-array 124.1-5:2 ...`` for
``-t``), or with ``-terse`` just ``123`` / ``124.1-5:2``; refusals print ``Unable to run job:
<reason>`` and ``Exiting.`` on stderr and exit 1 (a missing script: exit 14), as the real qsub
8.1.9 does (``tests/data/sge_real/``).
"""

from __future__ import annotations

import os
import re
import sys

from clustrix_sim.sge import site
from clustrix_sim.sge.common import call, current_user, err, submit_range
from clustrix_sim.sge.qsub_options import QsubError, directive_options, parse_argv

__all__ = ["build_request", "main"]

_TASKS = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")
_MEM = re.compile(r"^(\d+(?:\.\d+)?)([kKmMgGtT]?)$")
_MEM_MB = {"": 1 / (1024 * 1024), "k": 1 / 1024, "K": 1 / 1024, "m": 1.0, "M": 1.0, "g": 1024.0, "G": 1024.0,
           "t": 1024.0 ** 2, "T": 1024.0 ** 2}


def _rejected(reason: str) -> QsubError:
    return QsubError(f"Unable to run job: {reason}\nExiting.", 1)


def seconds(value: str) -> int:
    """An SGE time: ``3600``, ``1:00:00``, ``0:0:2`` (h:m:s), ``INFINITY`` is 0 (none)."""
    if value.upper() == "INFINITY":
        return 0
    parts = value.split(":")
    if len(parts) > 3 or not all(p.isdigit() or p == "" for p in parts):
        raise _rejected(f'unable to parse time value "{value}"')
    total = 0
    for part in parts:
        total = total * 60 + int(part or 0)
    return total


def memory_mb(value: str) -> int:
    m = _MEM.match(value)
    if not m:
        raise _rejected(f'unable to parse memory value "{value}"')
    return max(int(-(-float(m.group(1)) * _MEM_MB[m.group(2)] // 1)), 1)


def _tasks(text: str) -> tuple[int, int, int]:
    m = _TASKS.match(text)
    if not m:
        raise QsubError(f'ERROR! -t option argument "{text}" is not a valid task range', 7)
    first = int(m.group(1))
    last = int(m.group(2) or first)
    step = int(m.group(3) or 1)
    first, last = min(first, last), max(first, last)  # -t 5-1 is 1-5
    if first < 1 or step < 1:
        raise QsubError(f'ERROR! -t option argument "{text}" is not a valid task range', 7)
    return first, first + (last - first) // step * step, step


def _resources(texts: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for text in texts:
        for item in text.split(","):
            name, _, value = item.partition("=")
            if name not in site.COMPLEXES:
                raise _rejected(f'unknown resource "{name}"')
            found[name] = value
    return found


def _category(resources: dict[str, str], queue: str | None, pe: tuple[str, int] | None) -> str:
    """qacct's ``category``: the job's -l (times in seconds), -q and -pe requests."""
    words = []
    if resources:
        shown = [f"{k}={seconds(v) if k in site.TIME_COMPLEXES else v}" for k, v in sorted(resources.items())]
        words.append("-l " + ",".join(shown))
    if queue:
        words.append(f"-q {queue}")
    if pe:
        words.append(f"-pe {pe[0]} {pe[1]}")
    return " ".join(words) or "NONE"


def _holds(refs: list[str], user: str) -> list[str]:
    """``-hold_jid`` ids and names, as the ids of the caller's live jobs they name."""
    from clustrix_sim.sge.common import job_number, load_records

    live = load_records(call("jobs", "qsub", {"job_ids": None, "include_finished": False}))
    ids: list[str] = []
    for ref in ",".join(refs).split(","):
        ref = ref.strip()
        hits = {job_number(r) for r in live if (ref.isdigit() and job_number(r) == int(ref))
                or (not ref.isdigit() and r.request.name == ref and r.request.user == user)}
        ids += [str(h) for h in sorted(hits)]
    return ids


def read_script(positionals: list[str], binary: bool) -> tuple[str, str | None, str]:
    """(script text, its path or None, the job's default name)."""
    if binary:
        if not positionals:
            raise QsubError("qsub: -b y needs a command", 1)
        return " ".join(positionals) + "\n", None, os.path.basename(positionals[0])
    if not positionals:
        return sys.stdin.read(), None, "STDIN"
    path = positionals[0]
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read(), os.path.abspath(path), os.path.basename(path)
    except OSError as exc:
        raise QsubError("Unable to read script file because of error: error opening "
                        f"{path}: {exc.strerror}", 14) from exc


def build_request(argv: list[str], environ: dict[str, str], cwd: str) -> tuple[dict, dict]:
    """(JobRequest wire dict, client switches: terse, array range text)."""
    cli, positionals = parse_argv(argv)
    binary = any(o == "-b" and a[0].lower().startswith("y") for o, a in cli)
    prefix = "#$"
    for opt, args in cli:
        if opt == "-C":
            prefix = args[0]
    script, script_path, default_name = read_script(positionals, binary)
    options = ([] if binary else directive_options(script, prefix)) + cli
    user, uid = current_user()
    home = environ.get("HOME") or os.path.expanduser("~")
    v: dict[str, list[list[str]]] = {}
    for opt, args in options:
        v.setdefault(opt, []).append(args)

    def last(opt: str) -> str | None:
        return v[opt][-1][0] if opt in v else None

    work_dir = home
    if "-cwd" in v:
        work_dir = cwd
    if last("-wd"):
        work_dir = os.path.join(cwd, last("-wd") or "")
    resources = _resources([a[0] for a in v.get("-l", [])])
    pe = None
    if "-pe" in v:
        pe_name, pe_slots = v["-pe"][-1]
        if pe_name not in site.PARALLEL_ENVIRONMENTS:
            raise _rejected(f'job rejected: the requested parallel environment "{pe_name}" does not exist')
        pe = (pe_name, int(pe_slots.split("-")[0] or 1))
    queue = last("-q")
    if queue and queue.split("@")[0] != site.DEFAULT_QUEUE:
        raise _rejected(f'Job was rejected because job requests unknown queue "{queue}"')
    slots = pe[1] if pe else 1
    env = dict(environ) if "-V" in v else {"HOME": home, "USER": user, "LOGNAME": user}
    for args in v.get("-v", []):
        for item in args[0].split(","):
            key, eq, val = item.partition("=")
            env[key] = val if eq else environ.get(key, "")
    name = last("-N") or default_name
    opts: dict = {"home": home, "submit_dir": cwd, "o_path": environ.get("PATH", ""),
                  "o_shell": environ.get("SHELL", ""), "job_script": default_name,
                  "join": (last("-j") or "n").lower().startswith("y"), "export_all": "-V" in v,
                  "category": _category(resources, queue, pe), "binary": binary}
    if pe:
        opts["pe"] = pe[0]
    if last("-P"):
        opts["project"] = last("-P")
    request: dict = {
        "script": script, "name": name, "user": user, "uid": uid, "work_dir": work_dir,
        "script_path": script_path, "script_args": [] if binary else positionals[1:],
        "partition": site.DEFAULT_QUEUE, "ntasks": 1, "cpus_per_task": slots,
        "time_limit_s": seconds(resources["h_rt"]) if "h_rt" in resources else 0,
        "kill_at_once": True, "stdout_pattern": _path(last("-o")), "stderr_pattern": _path(last("-e")),
        "hold": "-h" in v, "env": env, "shell": last("-S") or site.QUEUE_SHELL,
        "account": last("-A"), "submit_host": "localhost", "flavor_options": opts,
    }
    if "h_vmem" in resources:  # a per-slot address-space limit (allocations fail), also reserved
        request["vmem_limit_mb"] = memory_mb(resources["h_vmem"]) * slots
        request["mem_mb"] = request["vmem_limit_mb"]
    if "-hold_jid" in v:
        held = _holds([a[0] for a in v["-hold_jid"]], user)
        if held:
            request["dependencies"] = [{"kind": "afterany", "job_ids": held}]
    extras = {"terse": "-terse" in v, "range": None}
    if last("-t"):
        first, end, step = _tasks(last("-t") or "")
        request["array_indices"] = list(range(first, end + 1, step))
        request["array_text"] = submit_range(first, end, step)
        opts.update(task_first=first, task_last=end, task_step=step)
        extras["range"] = request["array_text"]
        if last("-tc"):
            request["array_max_parallel"] = int(last("-tc") or 0)
    return request, extras


def _path(value: str | None) -> str | None:
    """``[host:]path`` -> path (one host here)."""
    if value is None:
        return None
    return value.split(":", 1)[1] if ":" in value and not value.startswith("/") else value


def main(argv: list[str]) -> int:
    from clustrix_sim.controller import protocol

    try:
        request, extras = build_request(argv, dict(os.environ), os.getcwd())
        job = call("submit", "qsub", {"request": request})["job_id"]
    except QsubError as exc:
        err(exc.text)
        return exc.rc
    except protocol.RequestRefused as exc:
        err(f"Unable to run job: {exc.message}\nExiting.")
        return 1
    except protocol.InjectedFault as exc:
        sys.stdout.write(exc.stdout)
        err(exc.stderr)
        return exc.rc
    except protocol.ControllerUnavailable:
        from clustrix_sim.sge.tools import UNREACHABLE

        err(UNREACHABLE["qsub"])
        return 1
    shown = f"{job}.{extras['range']}" if extras["range"] else str(job)
    if extras["terse"]:
        print(shown)
    elif extras["range"]:
        print(f'Your job-array {shown} ("{request["name"]}") has been submitted')
    else:
        print(f'Your job {job} ("{request["name"]}") has been submitted')
    return 0
