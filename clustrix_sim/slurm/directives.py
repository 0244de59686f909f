"""``#SBATCH`` directive scanning, ported from sbatch's ``_opt_batch_script``/``get_argument``.

Rules (src/sbatch/opt.c):

- ``#SBATCH`` (or the legacy ``#SLURM``, with a one-time error line) must start at column 0;
- scanning stops at the first line that is neither blank nor a comment;
- arguments split on whitespace; ``'...'``/``"..."`` quotes are removed; a backslash escapes the
  next character; an unquoted ``#`` starts a trailing comment;
- an empty argument (``""``) ends the line's scan, as in Slurm (its buffer stays NULL);
- an unmatched quote or a leading ``:`` is fatal.
"""

from __future__ import annotations

__all__ = ["DirectiveFatal", "Directives", "scan_directives", "split_directive_line"]

MAGIC = "#SBATCH"
LEGACY_MAGIC = "#SLURM"
LEGACY_WARNING = (
    "Change from #SLURM to #SBATCH in your script and verify the options are valid in sbatch"
)


class DirectiveFatal(Exception):
    """A directive line sbatch refuses outright; ``str(exc)`` is the text after ``fatal: ``."""


class Directives:
    """The argv-style tokens found in a script, and the error lines scanning produced.

    (A plain class, not a dataclass: ``dataclasses`` would add ~15 ms to every sbatch.)
    """

    __slots__ = ("args", "warnings")

    def __init__(self) -> None:
        self.args: list[str] = []
        self.warnings: list[str] = []


def _next_argument(text: str, pos: int, filename: str, lineno: int, line: str) -> tuple[str | None, int]:
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    if pos < n and text[pos] == ":":
        raise DirectiveFatal(f"{filename}: line {lineno}: Unexpected `:` in [{line}]")
    if pos >= n:
        return None, pos
    chars: list[str] = []
    quoted = False
    quote = ""
    escape = False
    # An escaped space continues the argument (``a\\ b`` is one word), as documented.
    while pos < n and (quoted or escape or not text[pos].isspace()) and text[pos] != "\n":
        ch = text[pos]
        if escape:
            escape = False
        elif ch == "\\":
            escape = True
            pos += 1
            continue
        elif quoted:
            if ch == quote:
                quoted = False
                pos += 1
                continue
        elif ch in "\"'":
            quoted = True
            quote = ch
            pos += 1
            continue
        elif ch == "#":
            break
        chars.append(ch)
        pos += 1
    if quoted:
        raise DirectiveFatal(f"{filename}: line {lineno}: Unmatched `{quote}` in [{line}]")
    return ("".join(chars) if chars else None), pos


def split_directive_line(rest: str, filename: str = "script", lineno: int = 1, line: str = "") -> list[str]:
    """Split what follows ``#SBATCH`` on one line into arguments."""
    args: list[str] = []
    pos = 0
    while True:
        arg, pos = _next_argument(rest, pos, filename, lineno, line or rest)
        if arg is None:
            return args
        args.append(arg)


def scan_directives(script: str, filename: str) -> Directives:
    """Collect the ``#SBATCH`` arguments of a batch script, in order."""
    found = Directives()
    warned = False
    for lineno, line in enumerate(script.split("\n"), start=1):
        if line.startswith(MAGIC):
            rest = line[len(MAGIC):]
        elif line.startswith(LEGACY_MAGIC):
            rest = line[len(LEGACY_MAGIC):]
            if not warned:
                found.warnings.append(LEGACY_WARNING)
                warned = True
        else:
            stripped = line.lstrip()
            if stripped and not stripped.startswith("#"):
                break  # the first command ends the directive block
            continue
        if "packjob" in line.lower() or "hetjob" in line.lower():
            break  # heterogeneous job components are not simulated; stop at the separator
        found.args.extend(split_directive_line(rest, filename, lineno, line))
    return found
