"""The values ``qsub`` options carry: ``-l`` resources, arrays, ``-W depend``, ``-v`` lists.

Each parser raises :class:`BadValue` with the ``(message, pbs_errno)`` qsub reports. Grammar
from the qsub(1B) man pages of OpenPBS 23 and Torque 6:

- ``-l select=[N:]res=val[:res=val]...[+chunk...]`` (PBS Pro), ``-l nodes=N[:ppn=C][:gpus=G]``
  (both; Torque's only form), ``ncpus=``, ``mem=`` (job-wide), ``walltime=[[HH:]MM:]SS[.ms]``,
  ``place=``; sizes are ``<int>[b|kb|mb|gb|tb|w|kw|mw|gw|tw]``, bytes when bare;
- ``-J X-Y[:Z][%N]`` with ``X < Y`` (PBS Pro); ``-t 1-10,15%2`` (Torque, a list, or one index);
- ``-W depend=type:id[:id...][,type:id...]`` with ids ``123.srv``, ``123[].srv``, ``123[4].srv``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

__all__ = ["BadValue", "Resources", "parse_array", "parse_depend", "parse_resources", "parse_size_mb",
           "parse_variables", "parse_walltime"]

PBSE_BADATVAL = 15014
PBSE_UNKRESC = 15035
USAGE_RC = 2  # "qsub: illegal -X value" plus the usage text

KNOWN_RESOURCES = frozenset({
    "select", "place", "walltime", "nodes", "ncpus", "mem", "vmem", "pmem", "pvmem", "ngpus", "gpus",
    "cput", "pcput", "host", "arch", "software", "file", "nice", "mpiprocs", "ompthreads", "naccelerators",
    "accelerator", "preempt_targets", "max_walltime", "min_walltime", "feature", "procs", "tpn",
})


class BadValue(ValueError):
    """``message`` is what qsub prints after ``qsub: ``; ``errno`` its ``pbs_errno`` (the exit
    code is ``errno & 0xFF``), or ``USAGE_RC`` when qsub also prints its usage."""

    def __init__(self, message: str, errno: int = USAGE_RC):
        super().__init__(message)
        self.message = message
        self.errno = errno


@dataclass
class Resources:
    nodes: int = 1
    cpus_per_node: int = 1
    mem_mb_per_node: int | None = None
    gpus_per_node: int = 0
    mpiprocs_per_node: int = 1
    time_limit_s: int | None = None
    select_text: str | None = None
    nodes_text: str | None = None
    place: str | None = None
    raw: dict[str, str] = field(default_factory=dict)


_SIZE_RE = re.compile(r"^(\d+)([kmgtp]?)(b|w)?$", re.IGNORECASE)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_size_mb(text: str) -> int:
    """A PBS size in whole megabytes (rounded up); bare numbers are bytes, ``w`` is 8 bytes."""
    m = _SIZE_RE.match(text.strip())
    if not m:
        raise BadValue("Illegal attribute or resource value", PBSE_BADATVAL)
    size = int(m.group(1)) * (1024 ** _UNITS[m.group(2).lower()]) * (8 if (m.group(3) or "").lower() == "w" else 1)
    return max(math.ceil(size / (1024 * 1024)), 1)


def parse_walltime(text: str) -> int:
    """``[[HH:]MM:]SS[.frac]`` in seconds."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(re.fullmatch(r"\d+(\.\d+)?", p) for p in parts):
        raise BadValue("illegal -l value")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return int(math.ceil(seconds))


def _split_resources(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in (p for p in text.split(",") if p):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise BadValue("illegal -l value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def _select(text: str, res: Resources) -> None:
    total = 0
    for k, chunk in enumerate(text.split("+")):
        count = 1
        fields = chunk.split(":")
        if fields and fields[0].isdigit():
            count = int(fields.pop(0))
        values = dict(f.partition("=")[::2] for f in fields if f)
        if k == 0:
            res.cpus_per_node = int(values.get("ncpus", "1") or 1)
            res.mpiprocs_per_node = int(values.get("mpiprocs", "1") or 1)
            res.gpus_per_node = int(values.get("ngpus", "0") or 0)
            if values.get("mem"):
                res.mem_mb_per_node = parse_size_mb(values["mem"])
        total += count
    res.nodes = max(total, 1)
    res.select_text = text


def _nodes(text: str, res: Resources) -> None:
    total = 0
    for k, spec in enumerate(text.split("+")):
        fields = spec.split(":")
        count = int(fields.pop(0)) if fields and fields[0].isdigit() else 1
        values = dict(f.partition("=")[::2] for f in fields if "=" in f)
        if k == 0:
            res.cpus_per_node = int(values.get("ppn", "1") or 1)
            res.mpiprocs_per_node = res.cpus_per_node
            res.gpus_per_node = int(values.get("gpus", "0") or 0)
        total += count
    res.nodes = max(total, 1)
    res.nodes_text = text


def parse_resources(values: list[str], *, select_allowed: bool) -> Resources:
    """Every ``-l`` given (directives first, the command line last: later values win)."""
    raw: dict[str, str] = {}
    for text in values:
        for key, value in _split_resources(text):
            if key not in KNOWN_RESOURCES or (key == "select" and not select_allowed):
                raise BadValue(f"Unknown resource Resource_List.{key}", PBSE_UNKRESC)
            raw[key] = value
    res = Resources(raw=raw)
    try:
        if "select" in raw:
            _select(raw["select"], res)
        elif "nodes" in raw:
            _nodes(raw["nodes"], res)
        elif "ncpus" in raw:
            res.cpus_per_node = int(raw["ncpus"])
        if "walltime" in raw:
            res.time_limit_s = parse_walltime(raw["walltime"])
    except ValueError as exc:
        if isinstance(exc, BadValue):
            raise
        raise BadValue("illegal -l value") from None
    if "mem" in raw and res.mem_mb_per_node is None:
        res.mem_mb_per_node = max(math.ceil(parse_size_mb(raw["mem"]) / res.nodes), 1)
    if "ngpus" in raw and "select" not in raw:
        res.gpus_per_node = int(raw["ngpus"])
    res.place = raw.get("place")
    return res


_RANGE_RE = re.compile(r"^(\d+)-(\d+)(?::(\d+))?(?:%(\d+))?$")


def parse_array(text: str, *, torque: bool) -> tuple[list[int], int | None]:
    """Array indices and the ``%`` limit; PBS Pro needs ``X-Y`` with X < Y, Torque takes a list."""
    flag = "-t" if torque else "-J"
    body, _, limit_text = text.partition("%")
    limit = int(limit_text) if limit_text.isdigit() else None
    if limit_text and limit is None or limit == 0:
        raise BadValue(f"illegal {flag} value")
    if not torque:
        m = _RANGE_RE.match(text.strip())
        if not m or int(m.group(1)) >= int(m.group(2)) or (m.group(3) is not None and int(m.group(3)) < 1):
            raise BadValue(f"illegal {flag} value")
        return list(range(int(m.group(1)), int(m.group(2)) + 1, int(m.group(3) or 1))), limit
    indices: list[int] = []
    for item in body.split(","):
        lo, dash, hi = item.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise BadValue(f"illegal {flag} value")
        indices += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    if not indices:
        raise BadValue(f"illegal {flag} value")
    return sorted(set(indices)), limit


_DEP_KINDS = {"after": "after", "afterok": "afterok", "afternotok": "afternotok", "afterany": "afterany"}
_DEP_ID_RE = re.compile(r"^(\d+)(?:\[(\d*)\])?(?:\..*)?$")


def parse_depend(text: str) -> list[dict]:
    """``afterok:1.srv:2.srv,afterany:3[].srv`` as engine dependency clauses."""
    clauses = []
    for clause in (c for c in text.split(",") if c):
        kind, _, rest = clause.partition(":")
        if kind not in _DEP_KINDS or not rest:
            raise BadValue("illegal -W value")
        ids = []
        for ref in rest.split(":"):
            m = _DEP_ID_RE.match(ref)
            if not m:
                raise BadValue("illegal -W value")
            ids.append(f"{m.group(1)}_{m.group(2)}" if m.group(2) else m.group(1))
        clauses.append({"kind": _DEP_KINDS[kind], "job_ids": ids})
    return clauses


def parse_variables(text: str, environ: dict[str, str]) -> list[tuple[str, str]]:
    """``-v A=1,B`` (B takes the submitter's value); a quoted value may hold commas."""
    out: list[tuple[str, str]] = []
    for item in _split_unquoted(text):
        name, eq, value = item.partition("=")
        if not name:
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out.append((name, value if eq else environ.get(name, "")))
    return out


def _split_unquoted(text: str) -> list[str]:
    items, current, quote = [], [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ",":
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return [i for i in items if i]
