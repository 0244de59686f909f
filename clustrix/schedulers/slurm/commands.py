"""SLURM, as pure functions: batch script text, argv lists, and parsers for what the tools print.

Nothing here runs a command or touches a file (see :mod:`clustrix.schedulers`). The formats are
pinned and chosen for machine reading:

- submit: ``sbatch --parsable SCRIPT`` prints ``123`` (or ``123;cluster``);
- status: ``sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,Reason``,
  one command for every id; fallback when accounting is disabled: ``squeue --noheader --array
  --states=all --format=%i|%T|%r``;
- cancel: ``scancel ID...``.

The batch script is rendered in :mod:`clustrix.schedulers.slurm.script`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence

from clustrix.errors import ResourceError, SchedulerOutputError
from clustrix.schedulers.contract import FallbackStatus
from clustrix.schedulers.slurm.states import map_state, parse_exit_code
from clustrix.spec import ArraySpec
from clustrix.states import ACTIVE, JobId, JobStatus

NAME = "slurm"
TIME_GRANULARITY_S = 60
"""SLURM stores time limits in whole minutes (``--time=0:00:02`` is 1 minute)."""

log = logging.getLogger(__name__)

SACCT_FIELDS: tuple[str, ...] = ("JobID", "State", "ExitCode", "Reason")
"""The pinned ``sacct --format`` columns :func:`parse_status` reads, in order."""

SQUEUE_FORMAT = "%i|%T|%r"
"""The pinned ``squeue --format``: job (array task) id, long state, reason; read by
:func:`parse_fallback_status`."""
_SQUEUE_HEADER = ("JOBID", "STATE", "REASON")

MAX_EXPANDED_TASKS = 1_000_000
"""Most array tasks one status output may expand to (``123_[0-999999]``); more is refused as
malformed rather than exhausting memory (SLURM's own MaxArraySize tops out at 4,000,001)."""

# --- job ids ----------------------------------------------------------------------------------------

_ARG_ID_RE = re.compile(r"[0-9]+(?:_[0-9]+|\+[0-9]+)?")
_JOB_ID_RE = re.compile(
    r"""(?P<base>[0-9]+)
        (?: _(?P<task>[0-9]+) | _\[(?P<range>[^\]]*)\] | \+(?P<het>[0-9]+) )?
        (?: \.(?P<step>[A-Za-z0-9_]+) )?""",
    re.VERBOSE,
)
_RANGE_ITEM_RE = re.compile(r"([0-9]{1,10})(?:-([0-9]{1,10})(?::([0-9]{1,10}))?)?")


def _check_ids(ids: Sequence[JobId], what: str) -> list[str]:
    """Job ids safe to pass as arguments: ``123``, ``123_4`` or ``123+0``; never empty.

    The check keeps a corrupted id such as ``--user=bob`` from turning into an option.
    """
    if isinstance(ids, str):
        ids = [ids]
    checked = list(ids)
    if not checked:
        raise ResourceError(f"job ids for {what}", checked, "at least one SLURM job id")
    for job_id in checked:
        if not isinstance(job_id, str) or not _ARG_ID_RE.fullmatch(job_id):
            raise ResourceError("SLURM job id", job_id, "digits, optionally '_<task>' or '+<offset>'")
    return checked


def _expand_range(text: str, budget: int) -> list[int]:
    """Array task indices of a pending range ``4-9%2``, ``0,6,16-32`` or ``0-15:4``."""
    body, has_throttle, throttle = text.partition("%")
    if has_throttle and not re.fullmatch(r"[0-9]{1,10}", throttle):
        raise SchedulerOutputError(f"bad array throttle {throttle!r} in task range {text!r}", text=text)
    indices: list[int] = []
    for item in body.split(","):
        m = _RANGE_ITEM_RE.fullmatch(item)
        if not m:
            raise SchedulerOutputError(f"bad array task range {item!r} in {text!r}", text=text)
        low = int(m.group(1))
        high = int(m.group(2)) if m.group(2) is not None else low
        step = int(m.group(3)) if m.group(3) is not None else 1
        if high < low or step == 0:
            raise SchedulerOutputError(f"empty array task range {item!r} in {text!r}", text=text)
        if len(indices) + (high - low) // step + 1 > budget:
            raise SchedulerOutputError(
                f"array task range {text!r} expands past {MAX_EXPANDED_TASKS} tasks", text=text
            )
        indices.extend(range(low, high + 1, step))
    return indices


def _row_keys(job_id: str, budget: int) -> tuple[list[str], str | None]:
    """The status keys one printed JobID stands for, and its step name (None for the job itself)."""
    m = _JOB_ID_RE.fullmatch(job_id)
    if not m:
        raise SchedulerOutputError(f"unrecognised SLURM job id {job_id!r}", text=job_id)
    base = m.group("base")
    if m.group("range") is not None:
        keys = [f"{base}_{i}" for i in _expand_range(m.group("range"), budget)]
    elif m.group("task") is not None:
        keys = [f"{base}_{m.group('task')}"]
    elif m.group("het") is not None:
        keys = [f"{base}+{m.group('het')}"]
    else:
        keys = [base]
    return keys, m.group("step")


def task_ids(job_id: JobId, array: ArraySpec) -> list[JobId]:
    """The SLURM id of each task of an array job, in task order: ``123_0``, ``123_1``..."""
    if not isinstance(job_id, str) or not job_id.isascii() or not job_id.isdigit():
        raise ResourceError("SLURM array job id", job_id, "the base job id sbatch printed, e.g. '123'")
    return [f"{job_id}_{i}" for i in range(array.size)]


# --- submit -----------------------------------------------------------------------------------------

_PARSABLE_RE = re.compile(r"([0-9]+)(?:;(\S+))?")
_CHATTY_RE = re.compile(r"Submitted batch job ([0-9]+)(?: on cluster (\S+))?")


def submit_argv(script_path: str) -> list[str]:
    """``sbatch --parsable SCRIPT``: prints just the id, ``123`` or ``123;cluster``."""
    if not isinstance(script_path, str) or not script_path or script_path.startswith("-"):
        raise ResourceError("script path", script_path, "a path to the batch script not starting with '-'")
    return ["sbatch", "--parsable", script_path]


def parse_submit(stdout: str) -> JobId:
    """The job id from sbatch's stdout.

    Reads the last non-blank line that is not ``sbatch: ...`` chatter (plugin messages, when a
    transport merges the streams); it must be ``123``, ``123;cluster``, ``Submitted batch job 123``
    or ``Submitted batch job 123 on cluster foo``. The cluster name is dropped: clustrix talks to
    the default cluster. Anything else raises :class:`SchedulerOutputError`.
    """
    lines = [ln.strip() for ln in stdout.split("\n")]
    lines = [ln for ln in lines if ln and not ln.startswith("sbatch:")]
    if not lines:
        raise SchedulerOutputError(
            "sbatch printed no job id (expected '123' from --parsable)", text=stdout, command=["sbatch"]
        )
    m = _PARSABLE_RE.fullmatch(lines[-1]) or _CHATTY_RE.fullmatch(lines[-1])
    if not m:
        raise SchedulerOutputError(
            "sbatch output does not end with a job id ('123', '123;cluster' or "
            "'Submitted batch job 123')",
            text=stdout,
            command=["sbatch"],
        )
    return m.group(1)


# --- status -----------------------------------------------------------------------------------------


def status_argv(ids: Sequence[JobId]) -> list[str]:
    """One ``sacct`` command for every id, in the pinned :data:`SACCT_FIELDS` format."""
    checked = _check_ids(ids, "sacct")
    return [
        "sacct",
        "--noheader",
        "--parsable2",
        "--allocations",
        "--format=" + ",".join(SACCT_FIELDS),
        "--jobs=" + ",".join(checked),
    ]


def _split_rows(stdout: str, header: Sequence[str], command: str) -> list[tuple[str, list[str]]]:
    """Each line of a pinned ``|``-separated format and its fields; blank and header lines skipped.

    The last field (Reason) is free text that may itself hold ``|`` ("a ``|`` inside a reason"),
    so a line is split into at most ``len(header)`` fields and the last one keeps the rest. A
    line with too few fields is returned as it is: it is its own job's problem, not the batch's.
    Output that is not this format at all (a fixed-width table, other columns, ``--parsable``'s
    trailing ``|`` on every line) raises :class:`SchedulerOutputError`: then no row is readable.
    """
    width = len(header)
    wanted = [h.upper() for h in header]
    rows = []
    for line in stdout.split("\n"):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("|", width - 1)]
        if [f.upper() for f in fields] == wanted:
            continue
        rows.append((line, fields))
    if rows and not any(len(fields) == width for _, fields in rows):
        widest = max(len(fields) for _, fields in rows)
        raise SchedulerOutputError(
            f"no {command} row has the {width} '|'-separated fields {'|'.join(header)} "
            f"(the widest has {widest}, expected {width}); was the output produced with the pinned format?",
            text=stdout)
    if rows and all(line.rstrip().endswith("|") and line.count("|") >= width for line, _ in rows):
        # --parsable ends every value with '|' (one '|' more than --parsable2 has); reasons
        # that end in '|' on *every* line are not worth misreading that format for.
        raise SchedulerOutputError(
            f"every {command} row ends with '|', as --parsable prints them: expected {width} "
            f"fields separated by '|' (--parsable2: {'|'.join(header)})", text=stdout)
    return rows


def _make_status(state_text: str, exit_text: str, reason_text: str) -> JobStatus:
    raw = state_text.strip()
    if not raw:
        raise SchedulerOutputError("empty SLURM state field", text=state_text)
    state = map_state(raw.split()[0])  # "CANCELLED by 1000" -> CANCELLED
    exit_code = parse_exit_code(exit_text)
    if state in ACTIVE:
        exit_code = None  # sacct prints 0:0 for jobs that have not ended; that is not an exit code
    reason = reason_text.strip()
    return JobStatus(state, raw=raw, reason="" if reason == "None" else reason, exit_code=exit_code)


def _read_rows(stdout: str, header: Sequence[str], command: str,
               make: Callable[[list[str]], JobStatus]) -> Iterable[tuple[list[str], str | None, JobStatus]]:
    """``(keys, step, status)`` per row, row by row: a row that cannot be read becomes an
    unreadable status of its own job (when its id can be read), never an error for the batch."""
    budget = MAX_EXPANDED_TASKS
    for line, fields in _split_rows(stdout, header, command):
        try:
            keys, step = _row_keys(fields[0], budget)
        except SchedulerOutputError as exc:
            # Not even the id: nobody's row. The jobs it might concern are "missing" this round,
            # which the poller's missing-job rules handle.
            log.warning("ignoring a %s row whose job id cannot be read (%s): %r", command, exc, line)
            continue
        budget -= len(keys)
        try:
            if len(fields) != len(header):
                raise SchedulerOutputError(
                    f"{command} row has {len(fields)} '|'-separated fields, expected {len(header)} "
                    f"({'|'.join(header)})", text=line)
            status = make(fields)
        except SchedulerOutputError as exc:
            status = JobStatus.unreadable(line, f"unreadable {command} row: {exc}")
        yield keys, step, status


def _collect(rows: Iterable[tuple[list[str], str | None, JobStatus]]) -> dict[JobId, JobStatus]:
    """Statuses by key: job rows win; a step row counts only when its job row is missing.

    A later job row for the same key replaces an earlier one (the newest line is the newest
    news), except that an unreadable row never replaces a readable one.
    """
    statuses: dict[JobId, JobStatus] = {}
    step_fallback: dict[JobId, tuple[bool, JobStatus]] = {}
    for keys, step, status in rows:
        if step is None:
            for key in keys:
                if not (status.problem and key in statuses and not statuses[key].problem):
                    statuses[key] = status
            continue
        for key in keys:
            is_batch = step == "batch"
            held = step_fallback.get(key)
            if held is None or (is_batch and not held[0]) or (held[1].problem and not status.problem):
                step_fallback[key] = (is_batch, status)
    for key, (_, status) in step_fallback.items():
        statuses.setdefault(key, status)
    return statuses


def parse_status(stdout: str) -> dict[JobId, JobStatus]:
    """Parse the output of :func:`status_argv` into ``{job id: JobStatus}``.

    Pending array rows (``123_[4-9%2]``) expand to one key per task (``123_4``..``123_9``). Step
    rows (``123.batch``) are ignored unless their job has no row of its own; then the ``batch``
    step stands in. ``exit_code`` is None while the job is pending or running. Empty output means
    no job is known yet: ``{}``. Parsing is row by row: a row that cannot be read yields
    :meth:`JobStatus.unreadable` for its own job (see :attr:`JobStatus.problem`); only a row
    whose job id cannot be read is skipped (with a warning).
    """
    return _collect(_read_rows(stdout, SACCT_FIELDS, "sacct",
                               lambda f: _make_status(f[1], f[2], f[3])))


# --- fallback when accounting is disabled -----------------------------------------------------------


def fallback_status_argv(ids: Sequence[JobId]) -> list[str]:
    """``squeue`` for every id, one line per array task, finished jobs included (for MinJobAge)."""
    checked = _check_ids(ids, "squeue")
    return [
        "squeue",
        "--noheader",
        "--array",
        "--states=all",
        "--jobs=" + ",".join(checked),
        "--format=" + SQUEUE_FORMAT,
    ]


def parse_fallback_status(stdout: str) -> dict[JobId, JobStatus]:
    """Parse :func:`fallback_status_argv` output (row by row, like :func:`parse_status`).

    squeue has no exit codes: ``exit_code`` is None.
    """
    return _collect(_read_rows(stdout, _SQUEUE_HEADER, "squeue", lambda f: _make_status(f[1], "", f[2])))


def is_accounting_unavailable(stderr: str) -> bool:
    """True when sacct failed because the cluster keeps no accounting: use the squeue fallback."""
    return "accounting storage is disabled" in stderr.lower()


def is_unknown_job_error(stderr: str) -> bool:
    """True for squeue's ``Invalid job id specified``, printed (rc 1) when its only id is unknown.

    The poller should read that as "this job is no longer in the queue", not as a failure.
    """
    return "invalid job id specified" in stderr.lower()


# --- cancel -----------------------------------------------------------------------------------------


def cancel_argv(ids: Sequence[JobId]) -> list[str]:
    """``scancel ID...``; silent (rc 0) for ids that are unknown or already finished."""
    return ["scancel", *_check_ids(ids, "scancel")]




FALLBACK_STATUS = FallbackStatus(argv=fallback_status_argv, parse=parse_fallback_status,
                                 primary_unavailable=is_accounting_unavailable)
"""``squeue`` answers where ``sacct`` cannot (no slurmdbd)."""
ACCOUNTING = None
"""``sacct`` already covers finished jobs: no per-job lookup."""
