"""PBS Professional / OpenPBS: batch script, argv and output parsing (pure, no I/O).

Submit ``qsub <script>`` (prints ``123.server``; an array prints ``123[].server``); status
``qstat -x -f -F json -t <ids>`` (history included, array subjobs expanded; the machine format is
pinned in :data:`STATUS_FLAGS`); cancel ``qdel <ids>``. When a qstat lacks ``-F json`` (PBS Pro
before 13) the text ``qstat -x -f -t`` is the fallback (:func:`parse_fallback_status`).

Script decisions, each checked against OpenPBS source:

* **Directive quoting.** qsub splits a ``#PBS`` line with ``make_argv``: whitespace separates
  words, ``\\x`` stands for ``x``, and quotes group words (PBS Pro drops the quote characters,
  Torque keeps them in the word). :func:`quote_value` therefore backslash-escapes whitespace,
  quotes and backslashes, which both read back verbatim. A line whose last character is ``\\``
  is joined with the next one, so a value ending with a backslash is refused.
* **Job names** (``check_job_name``): at most ``PBS_MAXJOBNAME`` characters (236 or 230 depending
  on the release; :data:`MAX_JOB_NAME_LEN` is the smaller) from ``[A-Za-z0-9_+-]``, the first
  alphabetic. qsub rejects anything else, so :func:`sanitize_job_name` maps the name
  deterministically (other characters become ``_``, a leading non-letter gets a ``j`` prefix,
  then it is cut).
* **Arrays** ``-J 0-N[%k]``: OpenPBS ``parse_subjob_index`` requires X < Y, so a one-task array is
  submitted as a plain job whose script sets ``PBS_ARRAY_INDEX=0`` (its id is the plain job id,
  see :func:`task_ids`). ``%k`` (``max_run_subjobs``) needs OpenPBS >= 20; older servers reject it
  with ``qsub: illegal -J value`` — leave ``max_parallel`` unset there. Arrays also get ``-r y``
  because PBS refuses non-rerunable arrays on sites whose default is ``-r n``.
* **Logs** ``-o``/``-e`` name the JobPaths files; for arrays the server replaces
  ``^array_index^`` so task *i* writes ``stdout.i.log`` exactly (:func:`log_paths`). qsub reads
  ``host:path`` in ``-o``/``-e``, so a job directory containing ``:`` is refused.
* **Resources**: ``-l select=<nodes>:ncpus=<cores>[:mem=<M>mb][:ngpus=<G>]`` — ``mem_mb`` is per
  node (chunk), as SLURM's ``--mem``; several nodes add ``-l place=scatter`` so chunks land on
  distinct hosts. PBS has no QOS: a ``qos`` is recorded as a comment, not sent.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence

from clustrix.errors import ResourceError, SchedulerOutputError
from clustrix.schedulers.contract import FallbackStatus, TaskTimes, TaskTimesQuery
from clustrix.schedulers.pbs.qstat_text import parse_qstat_full
from clustrix.schedulers.pbs.states import (
    PBS_PRO_EXEC_CODES,
    PBS_PRO_STATES,
    flatten,
    status_from_attrs,
)
from clustrix.schedulers.pbs.times import read_records, times_from_attrs
from clustrix.schedulers.rows import each_record
from clustrix.schedulers.script import render_body
from clustrix.spec import ArraySpec, JobPaths, JobSpec, format_hms
from clustrix.states import JobId, JobStatus

NAME = "pbs"
TIME_GRANULARITY_S = 60
"""PBS Pro checks walltime once a minute, so a limit ends on the next whole minute."""
SHELL = "/bin/bash"
TASK_VAR = "PBS_ARRAY_INDEX"
ARRAY_INDEX_TOKEN = "^array_index^"
MAX_JOB_NAME_LEN = 230
STATUS_FLAGS = ("-x", "-f", "-F", "json", "-t")
"""``qstat`` flags of the pinned status format: history, full, JSON, subjobs expanded."""
FALLBACK_STATUS_FLAGS = ("-x", "-f", "-t")

_PLAIN_RE = re.compile(r"^[A-Za-z0-9_./:=+@%^,\-]+$")
_NAME_BAD_RE = re.compile(r"[^A-Za-z0-9_+\-]")
_JOB_ID_RE = re.compile(r"^\d+(?:\[\d*\])?(?:\.[A-Za-z0-9][\w.\-]*)?$", re.ASCII)
_TASK_ID_RE = re.compile(r"^(\d+)(?:\[\d*\])?(.*)$", re.ASCII)
_UNKNOWN_RE = re.compile(r"Unknown Job Id|Job has finished", re.IGNORECASE)
_NO_JSON_RE = re.compile(r"invalid option|illegal option|unrecognized option|usage:",
                         re.IGNORECASE)


# --- script --------------------------------------------------------------------------------


def quote_value(value: str) -> str:
    """``value`` as one word for qsub's directive splitter (``make_argv``), byte for byte.

    Whitespace, quotes and backslashes are escaped with a backslash, which PBS Pro and Torque
    both undo (Torque keeps quote characters in the word, so quoting would corrupt values).
    """
    if not value or value.endswith("\\"):
        raise ResourceError("PBS directive value", value,
                            "a non-empty value not ending with a backslash (qsub would join "
                            "the next script line to the directive)")
    if _PLAIN_RE.match(value):
        return value
    return "".join("\\" + c if c.isspace() or c in "'\"\\" else c for c in value)


def sanitize_job_name(name: str, *, max_len: int = MAX_JOB_NAME_LEN) -> str:
    """A job name qsub's ``check_job_name`` accepts, derived deterministically from ``name``."""
    clean = _NAME_BAD_RE.sub("_", name)
    if not clean[:1].isalpha():
        clean = "j" + clean
    return clean[:max_len]


def check_log_dir(job_dir: str, scheduler: str) -> None:
    """Refuse a job directory the scheduler would misread in ``-o``/``-e`` (``host:path``)."""
    if ":" in job_dir:
        raise ResourceError(
            "job_dir", job_dir,
            f"a path without ':' ({scheduler} reads '-o host:path'); choose a remote_dir "
            "without ':'")


def extra_directive_lines(prefix: str, extras: Sequence[str]) -> list[str]:
    """User directives, verbatim, after the generated ones (the last occurrence wins)."""
    lines = []
    for directive in extras:
        text = directive.strip()
        lines.append(text if text.startswith(prefix) else f"{prefix} {text}")
    return lines


def qos_comment(qos: str | None, scheduler: str) -> list[str]:
    """A visible note in the script that a SLURM-only QOS was not sent."""
    if not qos:
        return []
    return [f"# clustrix: qos {qos!r} not sent: {scheduler} has no QOS"]


def render_script(spec: JobSpec, paths: JobPaths) -> str:
    """The whole ``qsub`` script: ``#PBS`` directives for every resource, then the body."""
    check_log_dir(paths.job_dir, "PBS")
    r = spec.resources
    lines = ["#!/bin/bash", f"#PBS -N {sanitize_job_name(spec.name)}", f"#PBS -S {SHELL}"]
    select = f"{r.nodes}:ncpus={r.cores}"
    if r.mem_mb is not None:
        select += f":mem={r.mem_mb}mb"
    if r.gpus:
        select += f":ngpus={r.gpus}"
    lines.append(f"#PBS -l select={select}")
    if r.nodes > 1:
        lines.append("#PBS -l place=scatter")
    if r.time_s is not None:
        lines.append(f"#PBS -l walltime={format_hms(r.time_s)}")
    if r.queue_name:
        lines.append(f"#PBS -q {quote_value(r.queue_name)}")
    if r.account:
        lines.append(f"#PBS -A {quote_value(r.account)}")
    lines += qos_comment(r.qos, "PBS")
    array = spec.array
    preamble: list[str] = []
    if array is not None and array.size > 1:
        span = f"0-{array.last_index}"
        if array.max_parallel is not None and array.max_parallel < array.size:
            span += f"%{array.max_parallel}"
        lines += [f"#PBS -J {span}", "#PBS -r y"]
        out = posixpath.join(paths.job_dir, f"stdout.{ARRAY_INDEX_TOKEN}.log")
        err = posixpath.join(paths.job_dir, f"stderr.{ARRAY_INDEX_TOKEN}.log")
    elif array is not None:
        out, err = paths.stdout(0), paths.stderr(0)
        preamble = ["# one-task array: PBS Pro rejects -J 0-0, so this plain job is task 0",
                    f"{TASK_VAR}=0"]
    else:
        out, err = paths.stdout(), paths.stderr()
    lines += [f"#PBS -o {quote_value(out)}", f"#PBS -e {quote_value(err)}"]
    lines += extra_directive_lines("#PBS", r.extra_directives)
    lines += preamble
    task_var = TASK_VAR if array is not None else None
    return "\n".join(lines) + "\n" + render_body(spec, paths, task_var=task_var)


def log_paths(paths: JobPaths, task: int | None = None) -> tuple[str, str]:
    """Where PBS Pro writes the job's (or array task's) stdout and stderr: the JobPaths files."""
    return paths.stdout(task), paths.stderr(task)


# --- submit / cancel / ids -------------------------------------------------------------------


def submit_argv(script_path: str) -> list[str]:
    """``qsub <script>``: every option is in the script's directives."""
    return ["qsub", script_path]


def parse_submit(stdout: str) -> JobId:
    """The job id qsub printed: its last non-blank line (``123.server``, ``123[].server``)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines or not _JOB_ID_RE.match(lines[-1]):
        raise SchedulerOutputError("qsub did not print a job id like '123.server'", text=stdout)
    return lines[-1]


def check_ids(ids: Sequence[JobId], what: str) -> list[str]:
    """The ids as argv words; refuses none, and ids that qstat/qdel would read as options."""
    ids = list(ids)
    if not ids:
        raise ValueError(f"{what} needs at least one job id")
    for job_id in ids:
        if not isinstance(job_id, str) or not job_id or job_id.startswith("-") or any(
                c.isspace() for c in job_id):
            raise ValueError(f"{what}: {job_id!r} is not a job id")
    return ids


def cancel_argv(ids: Sequence[JobId]) -> list[str]:
    """``qdel <ids>`` (array parents and subjob ids alike)."""
    return ["qdel", *check_ids(ids, "cancel")]


def task_ids(job_id: JobId, array: ArraySpec) -> list[JobId]:
    """Ids of tasks 0..n-1: ``123[].srv`` -> ``123[0].srv``...; a one-task array is the job."""
    if array.size == 1:
        return [job_id]
    m = _TASK_ID_RE.match(job_id)
    if not m:
        raise ValueError(f"{job_id!r} is not a PBS job id like '123[].server'")
    return [f"{m.group(1)}[{i}]{m.group(2)}" for i in range(array.size)]


def is_unknown_job_error(stderr: str) -> bool:
    """True when qstat/qdel said the job is unknown or already gone from the server."""
    return bool(_UNKNOWN_RE.search(stderr or ""))


# --- status --------------------------------------------------------------------------------


def status_argv(ids: Sequence[JobId]) -> list[str]:
    """One ``qstat -x -f -F json -t`` for all ids (finished jobs and subjobs included)."""
    return ["qstat", *STATUS_FLAGS, *check_ids(ids, "status")]


def parse_status(stdout: str) -> dict[JobId, JobStatus]:
    """Statuses from ``qstat -f -F json`` output; no ``Jobs`` key means no job matched."""
    if not stdout.strip():
        return {}
    data = load_qstat_json(stdout)
    if not isinstance(data, dict):
        raise SchedulerOutputError("qstat -F json did not print an object", text=stdout)
    jobs = data.get("Jobs", {})
    if not isinstance(jobs, dict):
        raise SchedulerOutputError("qstat -F json: 'Jobs' is not an object", text=stdout)
    def read(job_id: JobId, attrs: object) -> JobStatus:
        if not isinstance(attrs, dict):
            raise SchedulerOutputError(f"qstat -F json: job {job_id} is not an object", text=repr(attrs))
        return status_from_attrs(job_id, flatten(attrs), states=PBS_PRO_STATES,
                                 exec_codes=PBS_PRO_EXEC_CODES, exit_key="Exit_status")

    return each_record(jobs.items(), read, lambda job_id, attrs: f'"{job_id}": {attrs!r}')


def fallback_status_argv(ids: Sequence[JobId]) -> list[str]:
    """The text format, for a qstat without ``-F json``."""
    return ["qstat", *FALLBACK_STATUS_FLAGS, *check_ids(ids, "status")]


def parse_fallback_status(stdout: str) -> dict[JobId, JobStatus]:
    """Statuses from text ``qstat -x -f -t`` output (wrapped lines joined)."""
    return each_record(
        parse_qstat_full(stdout).items(),
        lambda job_id, attrs: status_from_attrs(job_id, attrs, states=PBS_PRO_STATES,  # type: ignore[arg-type]
                                                exec_codes=PBS_PRO_EXEC_CODES, exit_key="Exit_status"),
        describe_record)


def describe_record(job_id: JobId, attrs: object) -> str:
    """A ``qstat -f`` record as an error message shows it: its header and its state lines."""
    shown = {k: v for k, v in attrs.items() if k.lower() in ("job_state", "exit_status")} \
        if isinstance(attrs, dict) else {}
    return f"Job Id: {job_id} " + " ".join(f"{k} = {v}" for k, v in shown.items())


def is_accounting_unavailable(stderr: str) -> bool:
    """True when this qstat rejected ``-F json``/``-x``: use :func:`fallback_status_argv`."""
    return bool(_NO_JSON_RE.search(stderr or ""))


# --- tolerant JSON -------------------------------------------------------------------------

_ESCAPES = set('"\\/bfnrtu')
_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _repair_json(text: str) -> str:
    """Fix the invalid JSON real qstat versions print (openpbs #1255, #2541).

    Outside strings, a bare token that is not a JSON number (``005`` from ``-v foo=005``, ``inf``,
    ``.5`` from ``-v foo=inf``: the writer prints whatever ``strtod`` reads) becomes a string; inside
    strings, a backslash before a character JSON cannot escape is doubled, and ``\"`` right
    before a line break (the writer escapes every newline inside a string) is a value that ended
    with a backslash followed by its closing quote.
    """
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                nxt = text[i + 1] if i + 1 < n else ""
                if nxt == '"' and text[i + 2:i + 3] == "\n" or text[i + 1:i + 4] == '",\n':
                    out.append('\\\\"')  # a literal backslash, then the closing quote
                    in_string = False
                    i += 2
                    continue
                out.append(c + nxt if nxt in _ESCAPES and nxt else "\\\\")
                i += 2 if nxt in _ESCAPES and nxt else 1
                continue
            in_string = c != '"'
            out.append(c)
        elif c == '"':
            in_string = True
            out.append(c)
        elif c.isalpha() and text.startswith(("true", "false", "null"), i):
            word = next(w for w in ("true", "false", "null") if text.startswith(w, i))
            out.append(word)
            i += len(word)
            continue
        elif c in "-+." or c.isdigit() or c.isalpha():
            j = i
            while j < n and (text[j].isalnum() or text[j] in "+-."):
                j += 1
            token = text[i:j]
            out.append(token if _NUMBER_RE.fullmatch(token) else json.dumps(token))
            i = j
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def load_qstat_json(text: str) -> object:
    """Parse qstat's JSON, tolerating control characters, stray text before the object, and the
    invalid numbers/escapes :func:`_repair_json` fixes; anything else is SchedulerOutputError."""
    start = text.find("{")
    if start < 0:
        raise SchedulerOutputError("qstat -F json printed no JSON object", text=text)
    candidate = text[start:]
    for attempt in (candidate, None):
        try:
            return json.loads(candidate if attempt is not None else _repair_json(candidate),
                              strict=False)
        except (ValueError, RecursionError):
            continue
    raise SchedulerOutputError("qstat -F json printed invalid JSON", text=text)


FALLBACK_STATUS = FallbackStatus(argv=fallback_status_argv, parse=parse_fallback_status,
                                 primary_unavailable=is_accounting_unavailable)
"""Text ``qstat -f`` where the server has no ``-F json`` (before PBS Pro 18)."""
ACCOUNTING = None
TAGGED_SUBMIT = None
"""No tag survives into the batched status output without replacing the user's job name
(``-N``), so an ambiguous submit failure is retried as before (see the launcher)."""


# --- times, for timelines --------------------------------------------------------------------


def task_times_argvs(ids: Sequence[JobId]) -> list[list[str]]:
    """The status command itself: ``qstat -x -f -F json -t`` prints qtime/stime/obittime."""
    return [status_argv(ids)]


def parse_task_times(stdout: str) -> dict[JobId, TaskTimes]:
    """``{job or subjob id: TaskTimes}`` from ``qstat -x -f -F json -t`` output."""
    if not stdout.strip():
        return {}
    data = load_qstat_json(stdout)
    jobs = data.get("Jobs", {}) if isinstance(data, dict) else None
    if not isinstance(jobs, dict):
        raise SchedulerOutputError("qstat -F json: no 'Jobs' object", text=stdout)
    return read_records(
        {job_id: flatten(attrs) if isinstance(attrs, dict) else attrs for job_id, attrs in jobs.items()},
        lambda job_id, attrs: times_from_attrs(job_id, attrs, states=PBS_PRO_STATES,
                                               exec_codes=PBS_PRO_EXEC_CODES, exit_key="Exit_status"))


TASK_TIMES = TaskTimesQuery(
    argvs=task_times_argvs, parse=parse_task_times,
    is_unavailable=lambda stderr: is_unknown_job_error(stderr) or is_accounting_unavailable(stderr),
    retention="qstat -x keeps finished jobs while the server's job_history_enable is on, for "
              "job_history_duration (two weeks by default)")
"""``qtime``/``stime``/``obittime`` per subjob, from the status command's own output."""
