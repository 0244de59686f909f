"""Value grammars of sbatch options: memory, node counts, arrays, dependencies, signals, export.

Pure functions; each raises ``ValueError`` with the exact Slurm error text (after
``sbatch: error: ``) so the caller only prints it. No ``re``/``dataclasses`` imports: sbatch's
startup time is measured, and each costs milliseconds per invocation.
"""

from __future__ import annotations

__all__ = [
    "MAX_ARRAY_INDEX",
    "SIGNALS",
    "build_export_env",
    "parse_array",
    "parse_dependency",
    "parse_gpus",
    "parse_gres_gpus",
    "parse_int",
    "parse_mem_mb",
    "parse_nodes",
    "parse_signal",
]

# A generous client-side cap (Slurm's MaxArraySize is a controller setting; the controller
# enforces its own limit). It keeps a typo like 0-999999999 from allocating a huge list.
MAX_ARRAY_INDEX = 4_000_000

SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
    "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
    "PWR": 30, "SYS": 31,
}



def _digits(text: str) -> bool:
    """Only ASCII digits, at least one (str.isdigit also accepts '²' and friends)."""
    return bool(text) and all("0" <= c <= "9" for c in text)

_DEP_KINDS = ("after", "afterany", "afterok", "afternotok", "aftercorr", "afterburstbuffer",
              "singleton", "expand")


def parse_mem_mb(text: str, option: str = "--mem") -> int:
    """``<int>[K|M|G|T][B]`` to MiB (default unit MiB; K rounds up). ``0`` is "all memory"."""
    bad = ValueError(f"Invalid {option} specification")
    body = text.strip()
    if body[-1:] in ("B", "b") and len(body) > 1 and body[-2] in "KkMmGgTt":
        body = body[:-1]
    unit = body[-1:].upper() if body[-1:] in tuple("KkMmGgTt") else ""
    number = body[:-1] if unit else body
    if number.startswith("+"):
        number = number[1:]
    if not _digits(number):
        raise bad
    value = int(number)
    if unit == "K":
        return (value + 1023) // 1024
    if unit == "G":
        return value * 1024
    if unit == "T":
        return value * 1024 * 1024
    return value


def parse_int(text: str, what: str) -> int:
    """Slurm's ``parse_int`` for a positive count."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise ValueError(f'Invalid numeric value "{text}" for {what}.') from None
    if value <= 0:
        raise ValueError(f'Invalid numeric value "{text}" for {what}.')
    return value


def _count(text: str) -> int:
    unit = text[-1:].lower() if text[-1:] in ("k", "K", "m", "M") else ""
    number = text[:-1] if unit else text
    if not _digits(number):
        raise ValueError(text)
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit]


def parse_nodes(text: str) -> tuple[int, int]:
    """``min[-max]`` (or a ``1,2,4`` size list, whose smallest and largest are taken)."""
    try:
        if "," in text:
            sizes = [_count(p) for p in text.split(",")]
            return min(sizes), max(sizes)
        lo, sep, hi = text.partition("-")
        low = _count(lo)
        high = _count(hi) if sep else low
    except ValueError:
        raise ValueError(f"invalid node count `{text}'") from None
    if low < 1 or high < low:
        raise ValueError(f"invalid node count `{text}'")
    return low, high


def parse_array(text: str) -> tuple[list[int], int | None]:
    """``0-15``, ``0,6,16-32``, ``0-15:4``, ``0-15%4`` -> (sorted unique indices, throttle)."""
    bad = ValueError("Batch job submission failed: Invalid job array specification")
    spec, pct, limit = text.partition("%")
    throttle: int | None = None
    if pct:
        if not limit.isdigit():
            raise bad
        throttle = int(limit)
    indices: set[int] = set()
    for item in spec.split(","):
        span, colon, step_text = item.partition(":")
        lo, dash, hi = span.partition("-")
        if not _digits(lo) or (dash and not _digits(hi)) or (colon and not (dash and _digits(step_text))):
            raise bad
        first = int(lo)
        last = int(hi) if dash else first
        step = int(step_text) if colon else 1
        if last < first or step < 1 or last > MAX_ARRAY_INDEX:
            raise bad
        indices.update(range(first, last + 1, step))
    if not indices:
        raise bad
    return sorted(indices), throttle


def _job_ref(text: str, star: bool = False) -> bool:
    """``123`` or ``123_4`` (``123_*`` too when ``star``)."""
    base, under, task = text.partition("_")
    return _digits(base) and (not under or _digits(task) or (star and task == "*"))


def parse_dependency(text: str) -> tuple[list[dict], bool]:
    """``afterok:1:2,afterany:3`` (AND) or ``afterok:1?afternotok:2`` (OR) -> (clauses, any).

    Clauses are dicts shaped like ``clustrix_sim.engine.model.Dependency`` (kind, job_ids, minutes).
    """
    bad = ValueError("Batch job submission failed: Job dependency problem")
    if "," in text and "?" in text:
        raise bad
    any_of = "?" in text
    clauses: list[dict] = []
    for part in text.replace("?", ",").split(","):
        if not part:
            raise bad
        if part == "singleton":
            clauses.append({"kind": "singleton", "job_ids": [], "minutes": 0})
            continue
        kind, sep, rest = part.partition(":")
        if kind not in _DEP_KINDS or not sep or not rest:
            if _job_ref(part):
                # a bare id means afterany (Slurm's legacy form "-d 123")
                clauses.append({"kind": "afterany", "job_ids": [part], "minutes": 0})
                continue
            raise bad
        ids: list[str] = []
        minutes = 0
        for token in rest.split(":"):
            job, plus, mins = token.partition("+")
            if not _job_ref(job, star=True):
                raise bad
            if plus:
                if kind != "after" or not _digits(mins):
                    raise bad
                minutes = int(mins)
            ids.append(job)
        clauses.append({"kind": kind, "job_ids": ids, "minutes": minutes})
    return clauses, any_of


def parse_signal(text: str) -> str:
    """Validate ``[{R|B}:]<sig>[@secs]``; returns the text unchanged."""
    bad = ValueError("Invalid --signal specification")
    body = text
    if len(body) > 2 and body[1] == ":" and body[0] in "RBrb":
        body = body[2:]
    elif body[:3] in ("RB:", "BR:"):
        body = body[3:]
    sig, at, secs = body.partition("@")
    if at and (not _digits(secs) or int(secs) > 0xFFFF):
        raise bad
    name = sig.upper().removeprefix("SIG")
    if _digits(sig):
        if not 1 <= int(sig) <= 64:
            raise bad
    elif name not in SIGNALS:
        raise bad
    return text


def parse_gpus(text: str) -> int:
    """GPU count of ``--gpus``/``--gpus-per-node``/``--gpus-per-task``: ``2``, ``v100:2``,
    or several ``type:count`` entries separated by commas."""
    total = 0
    for entry in text.split(","):
        count = entry.rsplit(":", 1)[-1]
        if not count.isdigit():
            raise ValueError(
                "Batch job submission failed: Invalid generic resource (gres) specification"
            )
        total += int(count)
    return total


def parse_gres_gpus(text: str) -> int:
    """GPUs requested by ``--gres``: ``gpu``, ``gpu:2``, ``gpu:a100:2``, ``gres/gpu:2``;
    other generic resources (``mps:100``) count zero."""
    total = 0
    for entry in text.split(","):
        parts = entry.removeprefix("gres/").split(":")
        if not parts[0]:
            raise ValueError(
                "Batch job submission failed: Invalid generic resource (gres) specification"
            )
        if parts[0] != "gpu":
            continue
        if len(parts) == 1 or (len(parts) == 2 and not parts[1].isdigit()):
            total += 1
        elif parts[-1].isdigit():
            total += int(parts[-1])
        else:
            raise ValueError(
                "Batch job submission failed: Invalid generic resource (gres) specification"
            )
    return total


def build_export_env(spec: str | None, environ: dict[str, str]) -> dict[str, str]:
    """The environment a job starts with under ``--export`` (default ``ALL``)."""
    if spec is None or spec.upper() == "ALL":
        return dict(environ)
    items = [x for x in spec.split(",") if x]
    if len(items) == 1 and items[0].upper() in ("NONE", "NIL"):
        return {}
    env: dict[str, str] = {}
    if any(x.upper() == "ALL" for x in items):
        env.update(environ)
    for item in items:
        if item.upper() in ("ALL", "NONE", "NIL"):
            continue
        name, eq, value = item.partition("=")
        if eq:
            env[name] = value.strip("\"'")
        elif name in environ:
            env[name] = environ[name]
    return env
