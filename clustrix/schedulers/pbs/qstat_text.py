"""Parser for the text ``qstat -f`` layout shared by PBS Pro and Torque.

The layout (OpenPBS ``prt_attr``; Torque uses the same writer with a 77-column limit)::

    Job Id: 123.pbs-master
        Job_Name = dask-worker
        Variable_List = PBS_O_HOME=/home/pbsuser,PBS_O_LANG=en_US.UTF-8,
    \tPBS_O_LOGNAME=pbsuser,...
        comment = Job run at Mon Jan 06 at 10:00 on (pbs-slave-1:ncpus=4:mem=15728
    \t640kb)
    <blank line>

* a record starts with ``Job Id: <id>`` and ends with a blank line;
* each attribute is four spaces, ``name[.resource]``, `` = ``, the value;
* a long value is wrapped after a comma or even **mid-token**, and each continuation line starts
  with one TAB. The writer inserted only ``\\n\\t``, so joining the continuation text directly to
  the previous line restores the value byte for byte.

Real output bends these rules, and the parser follows it rather than refusing the whole batch:
a value may hold **raw newlines** (``Variable_List`` of a job submitted with ``-V`` from a shell
that exported functions: ``BASH_FUNC_module%%=() {  eval ...`` then ``}`` on a line of its own),
so a line that is neither a header, an attribute nor a TAB continuation continues the last value
after a newline; and such a value may hold **blank lines**, so a blank line does not end a
record — the next ``Job Id:`` does. Text before the first record belongs to no job and is
skipped with a warning.
"""

from __future__ import annotations

import logging
import re

from clustrix.errors import SchedulerOutputError

log = logging.getLogger(__name__)

_JOB_RE = re.compile(r"^Job Id:\s*(\S+)\s*$")
_ATTR_RE = re.compile(r"^ +([A-Za-z_][\w.\-]*) =(?: (.*))?$")


def parse_qstat_full(text: str) -> dict[str, dict[str, str]]:
    """Every job record of ``qstat -f`` output as ``{job_id: {attribute: value}}``.

    Attribute names keep their resource suffix (``resources_used.walltime``). Never raises for
    one odd line (see the module docstring); only output that is not text at all.
    """
    if not isinstance(text, str):
        raise SchedulerOutputError("qstat -f output is not text", text=repr(text))
    jobs: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last_key: str | None = None
    blanks = 0  # blank lines seen since the last line of the current record
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            blanks += 1
            continue
        header = _JOB_RE.match(line)
        if header:
            current, last_key, blanks = jobs.setdefault(header.group(1), {}), None, 0
            continue
        if current is None:
            log.warning("qstat -f line %d belongs to no job record; skipped: %r", number, line)
            continue
        attr = _ATTR_RE.match(line)
        if attr and not line.startswith("\t"):
            last_key = attr.group(1)
            current[last_key] = attr.group(2) or ""
        elif last_key is None:
            log.warning("qstat -f line %d precedes any attribute of its record; skipped: %r", number, line)
        elif line.startswith("\t") and not blanks:
            current[last_key] += line[1:]  # the writer's wrap: joined byte for byte
        else:  # a raw newline (and maybe blank lines) inside the value
            current[last_key] += "\n" * (1 + blanks) + (line[1:] if line.startswith("\t") else line)
        blanks = 0
    return jobs
