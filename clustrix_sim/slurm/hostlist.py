"""SLURM hostlist syntax: ``c[1-3,5]``, ``n[001-003]``, ``a[1-2],b3``.

``expand`` turns a hostlist expression into host names (what ``scontrol show hostnames`` prints,
and what submitit's ``_parse_node_list`` must reproduce); ``compress`` does the reverse, the way
Slurm's ``hostlist_ranged_string`` does for ``SLURM_JOB_NODELIST``/``squeue``/``sacct``.

Width rules follow Slurm's hostrange code: a range keeps the zero padding of its low bound
(``n[08-12]`` -> ``n08 .. n12``), and two numbers join into one range only if they have the same
width or neither is zero padded (``c9,c10`` -> ``c[9-10]`` but ``n09,n010`` stay apart).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["HostlistError", "compress", "expand", "natural_key"]

_SUFFIX = re.compile(r"^(.*?)(\d+)$")
# Slurm refuses to expand absurdly large ranges (MAX_RANGE); so do we, instead of eating memory.
MAX_RANGE = 64 * 1024


class HostlistError(ValueError):
    """A hostlist expression that cannot be parsed (unbalanced brackets, bad range)."""


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside ``[...]``."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
            if depth > 1:
                raise HostlistError(f"invalid hostlist {text!r}: nested '['")
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise HostlistError(f"invalid hostlist {text!r}: ']' without '['")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise HostlistError(f"invalid hostlist {text!r}: '[' without ']'")
    parts.append(text[start:])
    return [p for p in (s.strip() for s in parts) if p]


def _expand_ranges(body: str, whole: str) -> list[str]:
    """Expand the inside of one bracket, ``1-3,5`` -> ``['1', '2', '3', '5']`` (padding kept)."""
    out: list[str] = []
    for item in body.split(","):
        item = item.strip()
        if not item:
            raise HostlistError(f"invalid hostlist {whole!r}: empty range in [{body}]")
        lo, sep, hi = item.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise HostlistError(f"invalid hostlist {whole!r}: bad range {item!r}")
        if not sep:
            out.append(lo)
            continue
        first, last = int(lo), int(hi)
        if last < first:
            raise HostlistError(f"invalid hostlist {whole!r}: range {item!r} runs backwards")
        if last - first >= MAX_RANGE:
            raise HostlistError(f"invalid hostlist {whole!r}: range {item!r} is too large")
        width = len(lo)
        out.extend(str(n).zfill(width) for n in range(first, last + 1))
    return out


def _expand_one(piece: str, whole: str) -> list[str]:
    """Expand one comma-free piece, possibly with several bracket groups (cartesian product)."""
    results = [""]
    rest = piece
    while rest:
        open_at = rest.find("[")
        if open_at < 0:
            results = [r + rest for r in results]
            break
        close_at = rest.find("]", open_at)
        prefix, body = rest[:open_at], rest[open_at + 1 : close_at]
        numbers = _expand_ranges(body, whole)
        results = [r + prefix + n for r in results for n in numbers]
        rest = rest[close_at + 1 :]
    return results


def expand(text: str) -> list[str]:
    """Expand a hostlist expression into host names, in order, duplicates kept.

    >>> expand("c[1-3,5],login")
    ['c1', 'c2', 'c3', 'c5', 'login']
    """
    hosts: list[str] = []
    for piece in _split_top(text.strip()):
        hosts.extend(_expand_one(piece, text))
    return hosts


def natural_key(name: str) -> tuple[str, int, int]:
    """Sort key putting ``c2`` before ``c10`` (Slurm lists nodes in configuration order, which is
    natural order for the simulator's generated node names)."""
    match = _SUFFIX.match(name)
    if not match:
        return (name, -1, 0)
    return (match.group(1), int(match.group(2)), len(match.group(2)))


def _padded(digits: str) -> bool:
    return len(digits) > 1 and digits[0] == "0"


def _joinable(width_a: int, padded_a: bool, width_b: int, padded_b: bool) -> bool:
    return width_a == width_b or not (padded_a or padded_b)


def compress(names: Iterable[str], *, sort: bool = True) -> str:
    """Compress host names into Slurm's ranged form.

    ``sort=True`` (the default) orders names naturally and drops duplicates first, as Slurm does
    for a job's node list (built from a node bitmap).

    >>> compress(["c1", "c2", "c3", "c5"])
    'c[1-3,5]'
    """
    items = list(dict.fromkeys(names)) if sort else list(names)
    if sort:
        items.sort(key=natural_key)
    # ranges: [prefix, lo, hi, width, padded] or [name, None, ...] for names without digits
    ranges: list[list] = []
    for name in items:
        match = _SUFFIX.match(name)
        if not match:
            ranges.append([name, None, None, 0, False])
            continue
        prefix, digits = match.group(1), match.group(2)
        number, width, padded = int(digits), len(digits), _padded(digits)
        last = ranges[-1] if ranges else None
        if (
            last is not None
            and last[1] is not None
            and last[0] == prefix
            and number == last[2] + 1
            and _joinable(last[3], last[4], width, padded)
        ):
            last[2] = number
            continue
        ranges.append([prefix, number, number, width, padded])

    out: list[str] = []
    i = 0
    while i < len(ranges):
        prefix, lo, hi, width, padded = ranges[i]
        if lo is None:
            out.append(prefix)
            i += 1
            continue
        group = [ranges[i]]
        j = i + 1
        while (
            j < len(ranges)
            and ranges[j][1] is not None
            and ranges[j][0] == prefix
            and _joinable(width, padded, ranges[j][3], ranges[j][4])
        ):
            group.append(ranges[j])
            j += 1
        if len(group) == 1 and lo == hi:
            out.append(f"{prefix}{str(lo).zfill(width)}")
        else:
            body = ",".join(
                str(g[1]).zfill(g[3])
                if g[1] == g[2]
                else f"{str(g[1]).zfill(g[3])}-{str(g[2]).zfill(g[3])}"
                for g in group
            )
            out.append(f"{prefix}[{body}]")
        i = j
    return ",".join(out)
