"""Finding a SLURM submission again by its tag: ``sbatch --comment=TAG``, ``squeue --me %i|%k``.

After an ambiguous ``sbatch`` failure (see :class:`clustrix.schedulers.contract.TaggedSubmit`)
the launcher asks ``squeue`` for this user's jobs in every state with their comments, and adopts
the job carrying the submission's tag. ``squeue`` rather than ``sacct``: it answers without
accounting, and a job submitted seconds ago is still within MinJobAge. Pure, like the rest of
the module.
"""

from __future__ import annotations

import re

from clustrix.errors import ResourceError
from clustrix.schedulers.contract import TaggedSubmit
from clustrix.schedulers.slurm.commands import submit_argv
from clustrix.states import JobId

LOOKUP_FORMAT = "%i|%k"
"""The pinned ``squeue --format`` of :func:`lookup_argv`: job (or array task) id, comment."""

_TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_BASE_ID_RE = re.compile(r"([0-9]+)(?:_(?:[0-9]+|\[[^\]]*\])|\+[0-9]+)?")


def check_tag(tag: str) -> str:
    """A tag safe as one argument and as a comment squeue prints back unchanged."""
    if not isinstance(tag, str) or not _TAG_RE.fullmatch(tag):
        raise ResourceError("submission tag", tag, "1-100 letters, digits, '_', '.', '-' (a job dir name)")
    return tag


def tagged_submit_argv(script_path: str, tag: str) -> list[str]:
    """``sbatch --parsable --comment=TAG SCRIPT``."""
    argv = submit_argv(script_path)
    return [*argv[:-1], f"--comment={check_tag(tag)}", argv[-1]]


def lookup_argv(tag: str) -> list[str]:
    """Every job of this user that squeue still knows, in every state, with its comment."""
    check_tag(tag)
    return ["squeue", "--noheader", "--me", "--states=all", "--format=" + LOOKUP_FORMAT]


def parse_lookup(stdout: str, tag: str) -> JobId | None:
    """The (base) id of the job whose comment is ``tag``; None when there is none.

    A comment is everything after the first ``|`` (other jobs' comments may hold ``|``);
    lines that are not ``ID|COMMENT`` are other jobs' business and skipped, never fatal here:
    the answer only has to find *our* line. Array jobs (``123_[0-4]``, ``123_7``) give ``123``.
    When several jobs carry the tag (twins from before this check existed) the oldest id wins.
    """
    found: list[int] = []
    for line in stdout.split("\n"):
        job_id, sep, comment = line.strip().partition("|")
        if not sep or comment.strip() != tag:
            continue
        m = _BASE_ID_RE.fullmatch(job_id.strip())
        if m:
            found.append(int(m.group(1)))
    return str(min(found)) if found else None


TAGGED_SUBMIT = TaggedSubmit(submit_argv=tagged_submit_argv, lookup_argv=lookup_argv, parse_lookup=parse_lookup)
"""SLURM keeps the tag as the job's comment."""
