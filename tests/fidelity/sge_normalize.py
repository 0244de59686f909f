"""Normalize a Grid Engine transcript so the real one and the simulator's compare byte for byte.

Only what must differ between two clusters is replaced: job numbers (by their order of
submission, ``J1``...), dates and times, the host, the user and its uid, the home and work
directories, the submitter's PATH, and the figures a run measures (load, memory in use, the
``ru_*``/``cpu``/``io`` accounting of a process). Replacements inside fixed-width columns keep
the column width, so a misaligned column still shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Side", "normalize"]


@dataclass(frozen=True)
class Side:
    """The facts of one cluster's run: its host name(s), user, uid, home, work dir and the job
    numbers its submissions got, in order."""

    hosts: tuple[str, ...]
    user: str
    home: str
    work_dir: str
    jobs: tuple[str, ...]


_DATES = [re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d"), re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"),
          re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}")]
_MEASURED = ("ru_wallclock", "ru_utime", "ru_stime", "ru_maxrss", "ru_ixrss", "ru_ismrss", "ru_idrss",
             "ru_isrss", "ru_minflt", "ru_majflt", "ru_nswap", "ru_inblock", "ru_oublock", "ru_msgsnd",
             "ru_msgrcv", "ru_nsignals", "ru_nvcsw", "ru_nivcsw", "cpu", "mem", "io", "iow", "maxvmem")
_MEASURED_RE = re.compile(r"^(" + "|".join(_MEASURED) + r") +\S.*$", re.M)
_JOB_CONTEXTS = [
    re.compile(r"^(\d+)(?=\.\d+-\d+:\d+$|$)", re.M),                 # qsub -terse
    re.compile(r"(?<=^Your job )(\d+)", re.M), re.compile(r"(?<=^Your job-array )(\d+)", re.M),
    re.compile(r"(?<=<JB_job_number>)(\d+)"),
    re.compile(r"(?<=^job_number:)( +\d+)", re.M), re.compile(r"(?<=job_scripts/)(\d+)"),
    re.compile(r"(?<=^jid_successor_list:)( +[\d,]+)", re.M),
    re.compile(r"(?<=job )(\d+)(?= |$)", re.M), re.compile(r"(?<=job-array task )(\d+)"),
    re.compile(r"(?<=out\.)(\d+)(?=\.txt)"),
]
_QACCT_ID = re.compile(r"^(jobnumber    )(\d+) *$", re.M)
_ROW_ID = re.compile(r"^( *)(\d+)(?= \d\.\d{5} )", re.M)


def _sub_keep_width(text: str, token: str, placeholder: str) -> str:
    """Replace a whole-word ``token``; blanks after it absorb the change of length."""
    def repl(m: re.Match[str]) -> str:
        pad = m.group(1)
        if len(pad) > 1:  # a column's padding (a lone blank just separates words)
            pad = " " * max(1, len(pad) + len(token) - len(placeholder))
        return placeholder + pad

    return re.sub(r"(?<![\w.-])" + re.escape(token) + r"(?![\w-])( *)", repl, text)


def _map_ids(text: str, ids: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        raw = m.group(1)
        parts = [ids.get(p.strip(), p.strip()) for p in raw.split(",")]
        lead = raw[: len(raw) - len(raw.lstrip())]
        return lead + ",".join(parts)

    for pattern in _JOB_CONTEXTS:
        text = pattern.sub(one, text)
    text = _QACCT_ID.sub(lambda m: f"{m.group(1)}{ids.get(m.group(2), m.group(2)):<20}", text)
    return _ROW_ID.sub(lambda m: f"{ids.get(m.group(2), m.group(2)):>{len(m.group(1)) + len(m.group(2))}}", text)


def normalize(text: str, side: Side) -> str:
    ids = {number: f"J{k}" for k, number in enumerate(side.jobs, 1)}
    text = _map_ids(text, ids)
    text = text.replace(side.work_dir, "<CWD>").replace(side.home, "<HOME>")
    for pattern in _DATES:
        text = pattern.sub(lambda m: "<" + "T" * (len(m.group(0)) - 2) + ">", text)
    text = _MEASURED_RE.sub(lambda m: f"{m.group(1)} <measured>", text)
    text = re.sub(r"^(sge_o_path: +).*$", r"\1<PATH>", text, flags=re.M)
    text = re.sub(r"^((?:uid|gid): +)\d+$", r"\1<UID>", text, flags=re.M)
    text = re.sub(r"(?<= )\d+\.\d\d(?= +lx-amd64 )", "<LD>", text)                # qstat -f load
    text = re.sub(r"^(\S+ +lx-amd64 +\d+ +\d+ +\d+ +\d+) +\S+ +\S+ +\S+ ", r"\1 <LOAD MEM USE> ", text,
                  flags=re.M)                                                       # qhost figures
    for host in side.hosts:
        text = _sub_keep_width(text, host, "<HOST>")
    return _sub_keep_width(text, side.user, "<USER>")
