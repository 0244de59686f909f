"""SLURM filename patterns for ``--output``/``--error`` (sbatch.1, "FILENAME PATTERN").

A port of Slurm's ``expand_stdio_fields`` (``src/common/print_fields.c``), quirks included:

- ``%%`` is ``%``; an unknown letter keeps its ``%`` (``%z`` stays ``%z``).
- A width between ``%`` and the letter zero-pads numbers (``%4j`` -> ``0128``); widths above 9
  become 10. A single-digit width followed by a non-pattern letter prints only that digit (the
  ``%`` is dropped), exactly as Slurm's "weird behavior fix" does.
- Any backslash anywhere disables every expansion; the backslashes are removed.
- ``%n`` and ``%t`` are always 0 for a batch job (first node, first task); ``%s`` is the step
  name (``batch``); ``%J`` is the job id alone for the batch step.
- ``%a`` of a job that is not an array prints Slurm's NO_VAL, ``4294967294``; ``%A`` prints the
  job id.
- A relative path is joined to the job's working directory.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NO_VAL", "PatternContext", "expand_pattern"]

NO_VAL = 4294967294  # 0xfffffffe: Slurm's "not set" for uint32 fields such as array_task_id
_WILDCARDS = frozenset("AabJjNnstux")


@dataclass(frozen=True)
class PatternContext:
    """The job facts a pattern can refer to."""

    job_id: int
    work_dir: str
    job_name: str = ""
    user: str = ""
    node: str = ""
    array_job_id: int | None = None
    array_task_id: int | None = None
    step_name: str = "batch"


def _number(value: int, width: int) -> str:
    return str(value).zfill(width)


def _wildcard(letter: str, width: int, ctx: PatternContext) -> str:
    task = ctx.array_task_id if ctx.array_task_id is not None else NO_VAL
    if letter == "A":
        return _number(ctx.array_job_id if ctx.array_job_id else ctx.job_id, width)
    if letter in "Jj":
        return _number(ctx.job_id, width)
    if letter == "a":
        return _number(task, width)
    if letter == "b":
        return _number(task % 10, width)
    if letter == "N":
        return ctx.node
    if letter == "s":
        return ctx.step_name
    if letter in "nt":
        # First node / first task of a batch job; zero padded as the man page's example shows.
        return _number(0, width)
    if letter == "u":
        return ctx.user
    return ctx.job_name  # 'x'


def expand_pattern(pattern: str, ctx: PatternContext) -> str:
    """Expand a SLURM stdio filename pattern into an absolute path.

    >>> expand_pattern("job%4j.out", PatternContext(job_id=128, work_dir="/d"))
    '/d/job0128.out'
    """
    if not pattern:
        raise ValueError("empty filename pattern; pass e.g. 'slurm-%j.out'")
    prefix = ""
    if not pattern.startswith("/"):
        prefix = ctx.work_dir.rstrip("/") + "/"
    if "\\" in pattern:
        return prefix + pattern.replace("\\", "")

    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        i += 1  # now at the char after '%'
        if i >= n:
            break  # a trailing lone '%' is dropped, as in Slurm's state machine
        ch = pattern[i]
        if ch == "%":
            out.append("%")
            i += 1
            continue
        width = 0
        if ch.isdigit():
            start = i
            end = i
            while end < n and pattern[end].isdigit():
                end += 1
            value = int(pattern[start:end])
            if value > 9:
                width, i = 10, end
            else:
                width, i = value, start + 1
            if i >= n or pattern[i] not in _WILDCARDS:
                # Slurm prints only the last digit of the width and resumes after it.
                last_digit = start
                while last_digit + 1 < n and pattern[last_digit + 1].isdigit():
                    last_digit += 1
                out.append(pattern[last_digit])
                i = last_digit + 1
                continue
            ch = pattern[i]
        if ch in _WILDCARDS:
            out.append(_wildcard(ch, width, ctx))
        else:
            out.append("%" + ch)
        i += 1
    return prefix + "".join(out)
