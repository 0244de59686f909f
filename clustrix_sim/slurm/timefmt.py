"""SLURM time strings: parsing ``--time`` and the duration/timestamp formats the tools print.

Ports of ``src/common/parse_time.c`` (``time_str2secs``/``time_str2mins``, ``secs2time_str``,
``mins2time_str``, ``slurm_make_time_str``) and of squeue's ``_print_secs``.
"""

from __future__ import annotations

import os
import time

__all__ = [
    "INFINITE",
    "NO_VAL",
    "clock_str",
    "mins2time_str",
    "secs2time_str",
    "squeue_secs",
    "time_str2mins",
    "time_str2secs",
    "timestamp",
]

INFINITE = -1  # parse result for INFINITE / UNLIMITED / -1
NO_VAL = None  # parse result for an invalid specification



def _scan_int(text: str, pos: int) -> tuple[int, int] | None:
    """``%d`` of sscanf at ``pos``: optional spaces and sign, then ASCII digits."""
    n = len(text)
    while pos < n and text[pos] in " \t\n":
        pos += 1
    start = pos
    if pos < n and text[pos] in "+-":
        pos += 1
    digits = pos
    while pos < n and "0" <= text[pos] <= "9":
        pos += 1
    if pos == digits:
        return None
    return int(text[start:pos]), pos


def _valid_timespec(text: str) -> bool:
    """Slurm's ``_is_valid_timespec``: only digits, at most one '-' (before any ':'), at most
    two ':' and enough digit groups for the separators."""
    digit = dash = colon = 0
    in_digit = False
    for ch in text:
        if ch.isdigit() and ch.isascii():
            if not in_digit:
                digit += 1
                in_digit = True
        elif ch == "-":
            in_digit = False
            dash += 1
            if colon:
                return False
        elif ch == ":":
            in_digit = False
            colon += 1
        else:
            return False
    if not digit or dash > 1 or colon > 2:
        return False
    if dash:
        if (colon == 1 and digit < 3) or (colon == 2 and digit < 4):
            return False
    elif (colon == 1 and digit < 2) or (colon == 2 and digit < 3):
        return False
    return True


def _scanf_ints(text: str, seps: str) -> list[int]:
    """Mimic ``sscanf(text, "%d<sep>%d<sep>%d...")``: read ints separated by the given literal
    separator chars, stopping at the first mismatch."""
    values: list[int] = []
    pos = 0
    for index in range(len(seps) + 1):
        scanned = _scan_int(text, pos)
        if scanned is None:
            break
        value, pos = scanned
        values.append(value)
        if index == len(seps) or pos >= len(text) or text[pos] != seps[index]:
            break
        pos += 1
    return values


def time_str2secs(text: str) -> int | None:
    """Seconds for a Slurm duration; ``INFINITE`` for -1/INFINITE/UNLIMITED; ``None`` if invalid.

    Grammar: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``.
    """
    if not text:
        return NO_VAL
    if text.lower() in ("-1", "infinite", "unlimited"):
        return INFINITE
    if not _valid_timespec(text):
        return NO_VAL
    if "-" in text:
        parts = _scanf_ints(text, "-::") + [0, 0, 0, 0]
        d, h, m, s = parts[:4]
        return d * 86400 + h * 3600 + m * 60 + s
    parts = _scanf_ints(text, "::")
    if len(parts) == 3:
        h, m, s = parts
        return h * 3600 + m * 60 + s
    parts = parts + [0, 0]
    return parts[0] * 60 + parts[1]


def time_str2mins(text: str) -> int | None:
    """Minutes for a Slurm duration, seconds rounded **up**; ``INFINITE``/``None`` as above."""
    secs = time_str2secs(text)
    if secs is None or secs == INFINITE:
        return secs
    return (secs + 59) // 60


def secs2time_str(secs: int | None) -> str:
    """``HH:MM:SS`` or ``D-HH:MM:SS`` (sacct Elapsed, scontrol RunTime); None is UNLIMITED."""
    if secs is None:
        return "UNLIMITED"
    secs = int(secs)
    if secs < 0:
        return "INVALID"
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def mins2time_str(minutes: int | None) -> str:
    """A limit in minutes as ``HH:MM:00``/``D-HH:MM:00``; None is UNLIMITED."""
    if minutes is None:
        return "UNLIMITED"
    return secs2time_str(int(minutes) * 60)


def squeue_secs(secs: int | None) -> str:
    """squeue's compact duration (``_print_secs``): ``M:SS``, ``H:MM:SS``, ``D-HH:MM:SS``."""
    if secs is None:
        return "UNLIMITED"
    secs = int(secs)
    if secs < 0:
        return "INVALID"
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{seconds:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def timestamp(epoch: float | None, *, unknown: str = "Unknown") -> str:
    """``2025-01-06T10:00:00`` in local time, honouring ``SLURM_TIME_FORMAT`` (a strftime
    string; ``standard`` or unset is the default). None/0 prints ``unknown``."""
    if not epoch:
        return unknown
    fmt = os.environ.get("SLURM_TIME_FORMAT", "")
    if not fmt or fmt == "standard" or "%" not in fmt or fmt == "relative":
        fmt = "%Y-%m-%dT%H:%M:%S"
    return time.strftime(fmt, time.localtime(int(epoch)))


def clock_str(epoch: float) -> str:
    """The ``ctime``-style line squeue -l and sinfo -l print first: ``Mon Jan  6 10:00:00 2025``."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(int(epoch)))
