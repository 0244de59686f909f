"""SLURM batch scripts: ``#SBATCH`` directives every value of which sbatch reads back verbatim.

Script directives are written so that sbatch's own directive tokenizer (``src/sbatch/opt.c``
``_get_argument``) reads every value back verbatim; see :func:`quote_directive_value`. Pure.
"""

from __future__ import annotations

import posixpath
import re

from clustrix.errors import ResourceError
from clustrix.schedulers.script import render_body
from clustrix.spec import JobPaths, JobSpec, format_hms

# Values made only of these characters pass sbatch's tokenizer untouched without quotes.
_BARE_RE = re.compile(r"[A-Za-z0-9_.,:=/@+%^-]+")
# sbatch scans each raw #SBATCH line, case-insensitively, for "hetjob"/"packjob": a hit blanks the
# word and starts a new heterogeneous-job component. An empty quote pair inside the word
# ('het""job') hides it from that scan and vanishes in the tokenizer, so the value arrives intact.
_HET_RE = re.compile(r"(het|pack)(job)", re.IGNORECASE)
_UNREPRESENTABLE = {"\n": "newline", "\r": "carriage return", "\x00": "NUL byte"}


def quote_directive_value(field: str, value: str) -> str:
    """``value`` written so sbatch's directive tokenizer reads it back verbatim.

    sbatch (``src/sbatch/opt.c``) splits a directive line on whitespace, strips ``'...'`` and
    ``"..."`` quotes (adjacent quoted and bare pieces join into one argument), lets a backslash
    escape the next character, inside quotes too, and treats an unquoted ``#`` as the start of a
    comment. Plain values stay bare. Anything else goes in double quotes, where only ``\\`` and
    ``"`` are special: a backslash is doubled, and a ``"`` is written as ``"'"'"`` (close, a
    single-quoted ``"``, reopen) so no parser has to agree with us on ``\\"``. A newline, carriage
    return or NUL cannot be carried on one directive line and raises :class:`ResourceError`
    naming ``field``.
    """
    for char, what in _UNREPRESENTABLE.items():
        if char in value:
            raise ResourceError(
                field, value, f"text without a {what}: a #SBATCH directive is a single line"
            )
    if _BARE_RE.fullmatch(value):
        text = value
    else:
        text = '"' + value.replace("\\", "\\\\").replace('"', '"\'"\'"') + '"'
    # Only letters match, never a quote or backslash, so the pair lands in a bare or
    # double-quoted stretch, where '""' is an empty quoted piece.
    return _HET_RE.sub(r'\1""\2', text)


def filename_pattern(field: str, path: str) -> str:
    """A literal path as a SLURM ``--output``/``--error`` filename pattern (``%`` -> ``%%``).

    A backslash anywhere in a pattern makes SLURM drop every backslash and skip all ``%``
    expansion, so a path containing one cannot be expressed (and ``%a`` would stop working):
    it raises :class:`ResourceError`.
    """
    if "\\" in path:
        raise ResourceError(
            field,
            path,
            "a path without backslashes (SLURM treats '\\' in --output/--error as an escape); "
            "choose a remote job directory without one",
        )
    return path.replace("%", "%%")


def slurm_time(seconds: int) -> str:
    """Seconds as ``sbatch --time``: ``HH:MM:SS`` below a day, ``D-HH:MM:SS`` from one day."""
    days, rest = divmod(int(seconds), 86400)
    return f"{days}-{format_hms(rest)}" if days else format_hms(rest)


def _log_patterns(spec: JobSpec, paths: JobPaths) -> tuple[str, str]:
    """The ``--output``/``--error`` patterns; equal to ``paths.stdout(task)`` once SLURM expands them."""
    if spec.array is None:
        return (
            filename_pattern("job directory", paths.stdout()),
            filename_pattern("job directory", paths.stderr()),
        )
    # JobPaths names task files <stem>.<task><ext>; SLURM's %a is the 0-based array index we submit.
    out = filename_pattern("job directory", posixpath.join(paths.job_dir, "stdout")) + ".%a.log"
    err = filename_pattern("job directory", posixpath.join(paths.job_dir, "stderr")) + ".%a.log"
    return out, err


def render_script(spec: JobSpec, paths: JobPaths) -> str:
    """The complete ``sbatch`` script: ``#SBATCH`` directives for every resource, then the body.

    One task (``--ntasks=1``) with ``cores`` CPUs on ``nodes`` nodes; memory in megabytes; the
    partition falls back to ``queue``; arrays run tasks ``0..n-1`` (``%max_parallel``) and write
    ``stdout.<task>.log``. ``extra_directives`` follow verbatim so they can override ours.
    """
    res = spec.resources
    options: list[tuple[str, str, str]] = [  # (option, field name for errors, value)
        ("job-name", "job name", spec.name),
        ("nodes", "nodes", str(res.nodes)),
        ("ntasks", "ntasks", "1"),
        ("cpus-per-task", "cores", str(res.cores)),
    ]
    if res.mem_mb is not None:
        options.append(("mem", "memory", f"{res.mem_mb}M"))
    if res.time_s is not None:
        options.append(("time", "time", slurm_time(res.time_s)))
    if res.gpus > 0:
        options.append(("gres", "gpus", f"gpu:{res.gpus}"))
    for option, field, value in (
        ("partition", "partition", res.partition_name),
        ("account", "account", res.account),
        ("qos", "qos", res.qos),
    ):
        if value is not None:
            options.append((option, field, value))
    if spec.array is not None:
        options.append(("array", "array", spec.array.slurm_range()))
    out, err = _log_patterns(spec, paths)
    options += [("output", "job directory", out), ("error", "job directory", err)]

    lines = ["#!/bin/bash"]
    lines += [f"#SBATCH --{opt}={quote_directive_value(field, value)}" for opt, field, value in options]
    lines += [f"#SBATCH {directive}" for directive in res.extra_directives]
    return "\n".join(lines) + "\n" + render_body(spec, paths, task_var="SLURM_ARRAY_TASK_ID")


def log_paths(paths: JobPaths, task: int | None = None) -> tuple[str, str]:
    """Where SLURM writes the job's (or array task's) stdout and stderr: the JobPaths files.

    The ``--output``/``--error`` patterns of :func:`render_script` expand to exactly these.
    """
    return paths.stdout(task), paths.stderr(task)
