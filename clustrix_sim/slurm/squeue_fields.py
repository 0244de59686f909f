"""squeue's output fields: ``-o %x`` letters, ``-O Name`` long names, and Slurm's padding rules.

``_print_str`` (src/squeue/print.c): ``%.N`` right-justifies, ``%N`` left-justifies; values are
cut to N keeping the left part, except right-justified fields printed with ``cut_output=false``
(times and node lists), which overflow instead. A field without a width is not padded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.slurm.common import partition_of, shown_priority
from clustrix_sim.slurm.hostlist import compress
from clustrix_sim.slurm.states import compact
from clustrix_sim.slurm.timefmt import squeue_secs, timestamp

__all__ = ["Field", "LONG_FIELDS", "LETTERS", "Row", "parse_format", "parse_long_format", "render"]


@dataclass(frozen=True)
class Row:
    """One output line: the record, its display id (``104_[1-3]`` for a folded array) and the
    simulated clock."""

    record: JobRecord
    display_id: str
    now: float


@dataclass(frozen=True)
class Field:
    """A formatted column: header text, value function, width (0 = none), right-justified,
    whether overlong values are cut, and the literal suffix printed after it."""

    header: str
    value: Callable[[Row], str]
    width: int = 0
    right: bool = False
    cut: bool = True
    suffix: str = ""


def _used(row: Row) -> int:
    rec = row.record
    if rec.start_time is None or rec.state == "PENDING":
        return 0
    end = rec.end_time if rec.end_time is not None else row.now
    return max(int(end - rec.start_time), 0)


def _limit_s(rec: JobRecord) -> int | None:
    limit = rec.request.time_limit_s
    return None if not limit else int(limit)


def _limit(row: Row) -> str:
    limit = _limit_s(row.record)
    return "UNLIMITED" if limit is None else squeue_secs(limit)


def _left(row: Row) -> str:
    limit = _limit_s(row.record)
    if limit is None:
        return "UNLIMITED"
    return squeue_secs(max(limit - _used(row), 0))


def _nodes(rec: JobRecord) -> str:
    return compress(rec.node_list) if rec.node_list else ""


def _shows_reason(rec: JobRecord) -> bool:
    return rec.state in ("PENDING", "TIMEOUT", "OUT_OF_MEMORY", "DEADLINE", "FAILED")


def _reason_list(row: Row) -> str:
    rec = row.record
    if _shows_reason(rec):
        return f"({rec.reason or 'None'})"
    return _nodes(rec)


def _reason(row: Row) -> str:
    return row.record.reason or "None"


def _num_nodes(row: Row) -> str:
    rec = row.record
    return str(len(rec.node_list) if rec.node_list else max(rec.request.nodes, 1))


def _cpus(row: Row) -> str:
    rec = row.record
    if rec.alloc_cpus and rec.state != "PENDING":
        return str(rec.alloc_cpus)
    return str(max(rec.request.ntasks, 1) * max(rec.request.cpus_per_task, 1))


def _task_id(row: Row) -> str:
    rec = row.record
    if "_[" in row.display_id:
        return row.display_id.split("_", 1)[1][1:-1]
    return str(rec.array_task_id) if rec.array_task_id is not None else "N/A"


def _end(row: Row) -> str:
    rec = row.record
    if rec.end_time:
        return timestamp(rec.end_time)
    limit = _limit_s(rec)
    if rec.start_time and rec.state != "PENDING" and limit:
        return timestamp(rec.start_time + limit)
    return "N/A"


def _null(text: str | None) -> str:
    return text if text else "(null)"


def _exit_code(row: Row) -> str:
    return f"{row.record.exit_code}:{row.record.exit_signal}"


def _mem(row: Row) -> str:
    req = row.record.request
    if req.mem_mb is not None:
        return f"{req.mem_mb}M"
    if req.mem_per_cpu_mb is not None:
        return f"{req.mem_per_cpu_mb}M"
    return "0"


def _tres(row: Row) -> str:
    gpus = row.record.request.gpus
    return f"gres/gpu:{gpus}" if gpus else "N/A"


def _stdio(which: str) -> Callable[[Row], str]:
    def get(row: Row) -> str:
        rec = row.record
        path = rec.stdout_path if which == "out" else rec.stderr_path
        if path:
            return path
        from clustrix_sim.slurm.jobenv import output_paths

        try:
            out, err = output_paths(rec)
        except ValueError:
            return "(null)"
        return out if which == "out" else err

    return get


# letter -> (header, value, cut_output)
LETTERS: dict[str, tuple[str, Callable[[Row], str], bool]] = {
    "i": ("JOBID", lambda r: r.display_id, True),
    "A": ("JOBID", lambda r: str(r.record.job_id), True),
    "F": ("ARRAY_JOB_ID", lambda r: str(r.record.array_job_id or r.record.job_id), True),
    "K": ("ARRAY_TASK_ID", _task_id, True),
    "j": ("NAME", lambda r: r.record.request.name, True),
    "u": ("USER", lambda r: r.record.request.user, True),
    "U": ("UID", lambda r: str(r.record.request.uid), True),
    "g": ("GROUP", lambda r: r.record.request.user, True),
    "G": ("GID", lambda r: str(r.record.request.uid), True),
    "P": ("PARTITION", lambda r: partition_of(r.record), True),
    "t": ("ST", lambda r: compact(r.record.state), True),
    "T": ("STATE", lambda r: r.record.state, True),
    "M": ("TIME", lambda r: squeue_secs(_used(r)), False),
    "l": ("TIME_LIMIT", _limit, False),
    "L": ("TIME_LEFT", _left, False),
    "D": ("NODES", _num_nodes, True),
    "C": ("CPUS", _cpus, True),
    "c": ("MIN_CPUS", lambda r: str(max(r.record.request.cpus_per_task, 1)), True),
    "N": ("NODELIST", lambda r: _nodes(r.record), False),
    "R": ("NODELIST(REASON)", _reason_list, True),
    "r": ("REASON", _reason, True),
    "S": ("START_TIME", lambda r: timestamp(r.record.start_time, unknown="N/A"), False),
    "V": ("SUBMIT_TIME", lambda r: timestamp(r.record.submit_time, unknown="N/A"), False),
    "e": ("END_TIME", _end, False),
    "Z": ("WORK_DIR", lambda r: r.record.request.work_dir, True),
    "k": ("COMMENT", lambda r: _null(r.record.request.comment), True),
    "E": ("DEPENDENCY", lambda r: _null(r.record.request.dependency_text), True),
    "a": ("ACCOUNT", lambda r: _null(r.record.request.account), True),
    "q": ("QOS", lambda r: r.record.request.qos or "normal", True),
    "w": ("WCKEY", lambda r: _null(r.record.request.wckey), True),
    "o": ("COMMAND", lambda r: _null(r.record.request.script_path), True),
    "m": ("MIN_MEMORY", _mem, True),
    "p": ("PRIORITY", lambda r: f"{shown_priority(r.record) / 4294967295:.8f}", True),
    "Q": ("PRIORITY", lambda r: str(shown_priority(r.record)), True),
    "h": ("OVER_SUBSCRIBE", lambda r: "NO" if r.record.request.exclusive else "OK", True),
    "f": ("FEATURES", lambda r: _null(r.record.request.constraint), True),
    "b": ("TRES_PER_NODE", _tres, True),
    "B": ("EXEC_HOST", lambda r: r.record.node_list[0] if r.record.node_list else "n/a", True),
    "n": ("REQ_NODES", lambda r: "", True),
    "x": ("EXC_NODES", lambda r: "", True),
    "y": ("NICE", lambda r: "0", True),
    "O": ("CONTIGUOUS", lambda r: "0", True),
    "d": ("MIN_TMP_DISK", lambda r: "0", True),
    "z": ("S:C:T", lambda r: "*:*:*", True),
}

# -O long names (case-insensitive) -> (header, letter providing the value)
LONG_FIELDS: dict[str, tuple[str, str]] = {
    "jobarrayid": ("JOBID", "i"), "jobid": ("JOBID", "A"), "arrayjobid": ("ARRAY_JOB_ID", "F"),
    "arraytaskid": ("ARRAY_TASK_ID", "K"), "name": ("NAME", "j"), "username": ("USER", "u"),
    "userid": ("UID", "U"), "groupname": ("GROUP", "g"), "groupid": ("GID", "G"),
    "state": ("STATE", "T"), "statecompact": ("ST", "t"), "reason": ("REASON", "r"),
    "reasonlist": ("NODELIST(REASON)", "R"), "timeused": ("TIME", "M"),
    "timelimit": ("TIME_LIMIT", "l"), "timeleft": ("TIME_LEFT", "L"),
    "numnodes": ("NODES", "D"), "numcpus": ("CPUS", "C"), "nodelist": ("NODELIST", "N"),
    "partition": ("PARTITION", "P"), "account": ("ACCOUNT", "a"), "qos": ("QOS", "q"),
    "submittime": ("SUBMIT_TIME", "V"), "starttime": ("START_TIME", "S"),
    "endtime": ("END_TIME", "e"), "workdir": ("WORK_DIR", "Z"), "dependency": ("DEPENDENCY", "E"),
    "comment": ("COMMENT", "k"), "command": ("COMMAND", "o"), "minmemory": ("MIN_MEMORY", "m"),
    "mincpus": ("MIN_CPUS", "c"), "priority": ("PRIORITY", "p"), "prioritylong": ("PRIORITY", "Q"),
    "wckey": ("WCKEY", "w"), "feature": ("FEATURES", "f"), "tres-per-node": ("TRES_PER_NODE", "b"),
    "batchhost": ("EXEC_HOST", "B"), "oversubscribe": ("OVER_SUBSCRIBE", "h"),
    "nice": ("NICE", "y"), "contiguous": ("CONTIGUOUS", "O"),
}
_LONG_EXTRA: dict[str, tuple[str, Callable[[Row], str]]] = {
    "stdout": ("STDOUT", _stdio("out")),
    "stderr": ("STDERR", _stdio("err")),
    "exit_code": ("EXIT_CODE", _exit_code),
}

_TOKEN = re.compile(r"%(\.?)(\d*)(.)", re.S)


def parse_format(fmt: str, warn: Callable[[str], None]) -> list[Field]:
    """Parse an ``-o`` format; literal text becomes suffixes (and a leading prefix field)."""
    fields: list[Field] = []
    pos = fmt.find("%")
    if pos < 0:
        return [Field(header=fmt, value=lambda r, t=fmt: t, cut=False)]
    if pos > 0:
        prefix = fmt[:pos]
        fields.append(Field(header=prefix, value=lambda r, t=prefix: t, cut=False))
    while pos >= 0 and pos < len(fmt):
        match = _TOKEN.match(fmt, pos)
        if not match:
            break
        nxt = fmt.find("%", match.end())
        suffix = fmt[match.end(): nxt if nxt >= 0 else len(fmt)]
        right, width, letter = match.group(1) == ".", int(match.group(2) or 0), match.group(3)
        spec = LETTERS.get(letter)
        if spec is None:
            warn(f"Invalid job format specification: {letter}")
            if suffix and fields:
                last = fields[-1]
                fields[-1] = Field(last.header, last.value, last.width, last.right, last.cut,
                                   last.suffix + suffix)
        else:
            header, func, cut = spec
            fields.append(Field(header, func, width, right, cut, suffix))
        pos = nxt
    return fields


def parse_long_format(fmt: str, warn: Callable[[str], None]) -> list[Field]:
    """Parse an ``-O`` format: ``Name[:[.][width][suffix]]`` items joined by commas; the default
    width is 20, left-justified, with no separator."""
    fields: list[Field] = []
    for token in fmt.split(","):
        if not token:
            continue
        name, colon, rest = token.partition(":")
        right = False
        width = 20
        suffix = ""
        if colon:
            if rest.startswith("."):
                right, rest = True, rest[1:]
            digits = re.match(r"\d*", rest).group(0)
            width = int(digits) if digits else 0
            suffix = rest[len(digits):]
        key = name.lower()
        if key in LONG_FIELDS:
            header, letter = LONG_FIELDS[key]
            _, func, cut = LETTERS[letter]
        elif key in _LONG_EXTRA:
            header, func = _LONG_EXTRA[key]
            cut = True
        else:
            warn(f"Invalid job format specification: {name}")
            continue
        fields.append(Field(header, func, width, right, cut, suffix))
    return fields


def print_str(text: str, width: int, right: bool, cut: bool) -> str:
    """Slurm's ``_print_str``."""
    if width == 0:
        return text
    if right:
        out = text.rjust(width)
        if cut:
            out = out[:width]
    else:
        out = text[:width]  # "%.Ns" truncates even when cut_output is false
    return out.ljust(width)


def render(rows: list[Row], fields: list[Field], header: bool) -> str:
    """The full output text (header line unless suppressed, one line per row)."""
    lines: list[str] = []
    if header:
        lines.append("".join(print_str(f.header, f.width, f.right, True) + f.suffix
                             for f in fields))
    for row in rows:
        lines.append("".join(print_str(f.value(row), f.width, f.right, f.cut) + f.suffix
                             for f in fields))
    return "".join(line + "\n" for line in lines)
