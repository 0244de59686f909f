"""Normalize one site's command outputs so real Slurm and the simulator can be compared (pure).

Only what must differ between two runs of the same scenario is rewritten, and each rewrite keeps
the token's width, so column layouts are still compared:

- job ids: every id the scenario created becomes ``J`` plus its rank in submission order, zero
  padded to the id's width (``100004`` -> ``J00005``), wherever it appears (``100004_2``,
  ``slurm-100004.out``, ``JobId=100004``);
- dates, times and durations: each digit becomes ``N`` (``2026-12-03T15:34:07`` ->
  ``NNNN-NN-NNTNN:NN:NN``, ``00:01:00``, ``1-00:00:00``; squeue's ``0:03`` -> ``N:NN``, only in
  squeue's output, since elsewhere ``0:15`` is an exit code);
- host names: each becomes ``H`` repeated to its width;
- user names: each becomes ``U`` repeated to its width;
- absolute paths: the scenario's work directory becomes ``/WORK``;
- values that name a process (``AllocNode:Sid=host:pid``) or count the controller's past jobs
  (``Priority=4294901754``: priority/basic gives each job one less than the last).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\b")
_DURATION = re.compile(r"(?<![\w.:/-])(?:\d+-)?\d{1,2}:\d{2}:\d{2}(?:\.\d{3})?(?![\w:])")
# squeue's TIME is M:SS, which only squeue prints (elsewhere N:N is an exit code: 0:15).
_SHORT_DURATION = re.compile(r"(?<![\w.:/-])\d{1,2}:\d{2}(?![\w:])")
_SID = re.compile(r"AllocNode:Sid=\S+")
_PRIORITY = re.compile(r"(?<=Priority=)[1-9]\d*")  # priority/basic counts every job since start


@dataclass(frozen=True)
class Site:
    """What to rewrite for one side: its job ids in submission order, hosts, users, work dir."""

    job_ids: tuple[int, ...]
    hosts: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    work_dir: str = ""


def _digits_to_n(match: re.Match[str]) -> str:
    return re.sub(r"\d", "N", match.group(0))


def id_token(rank: int, width: int) -> str:
    """``J`` plus the 1-based rank, zero padded to ``width`` characters."""
    return "J" + str(rank).rjust(max(width - 1, 1), "0")


def normalize(text: str, site: Site, *, short_durations: bool = False) -> str:
    """``text`` with ids, times, hosts, users and paths of ``site`` rewritten (see the module)."""
    if site.work_dir:
        text = text.replace(site.work_dir, "/WORK")
    text = _SID.sub("AllocNode:Sid=SID", text)
    text = _PRIORITY.sub(lambda m: "P" * len(m.group(0)), text)
    ranks = {job_id: rank for rank, job_id in enumerate(sorted(set(site.job_ids)), start=1)}
    if ranks:
        pattern = re.compile(r"(?<!\d)(" + "|".join(str(i) for i in sorted(ranks, reverse=True)) + r")(?!\d)")
        text = pattern.sub(lambda m: id_token(ranks[int(m.group(1))], len(m.group(1))), text)
    text = _DATE.sub(_digits_to_n, text)
    text = _DURATION.sub(_digits_to_n, text)
    if short_durations:
        text = _SHORT_DURATION.sub(_digits_to_n, text)
    for names, letter in ((site.hosts, "H"), (site.users, "U")):
        for name in sorted(set(filter(None, names)), key=len, reverse=True):
            text = re.sub(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", letter * len(name), text)
    return text


@dataclass(frozen=True)
class Output:
    """One command's result: the argv as written in the scenario, exit code, stdout, stderr."""

    command: str
    rc: int
    stdout: str
    stderr: str

    def to_dict(self) -> dict[str, object]:
        return {"command": self.command, "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Output:
        return cls(str(data["command"]), int(data["rc"]), str(data["stdout"]), str(data["stderr"]))  # type: ignore[arg-type]


def normalize_all(outputs: Iterable[Output], site: Site) -> list[Output]:
    out = []
    for o in outputs:
        short = o.command.startswith("squeue")
        out.append(Output(o.command, o.rc, normalize(o.stdout, site, short_durations=short),
                          normalize(o.stderr, site, short_durations=short)))
    return out


def differences(expected: list[Output], actual: list[Output]) -> list[str]:
    """One line per differing field (``command: stdout``), with both values; empty when equal."""
    if [o.command for o in expected] != [o.command for o in actual]:
        return [f"command lists differ: {[o.command for o in expected]} != {[o.command for o in actual]}"]
    found = []
    for exp, act in zip(expected, actual, strict=True):
        for name in ("rc", "stdout", "stderr"):
            if getattr(exp, name) != getattr(act, name):
                found.append(f"{exp.command}: {name}\n--- real\n{getattr(exp, name)}\n+++ sim\n{getattr(act, name)}")
    return found
