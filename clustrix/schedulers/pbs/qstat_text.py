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
  the previous line restores the value byte for byte;
* a newline inside a value is printed raw (``Variable_List`` of a job submitted with ``-V`` when
  an exported variable holds one, e.g. a bash function): a line that is none of the above
  continues the previous value after a ``\\n``.
"""

from __future__ import annotations

import re

from clustrix.errors import SchedulerOutputError

_JOB_RE = re.compile(r"^Job Id:\s*(\S+)\s*$")
_ATTR_RE = re.compile(r"^ +([A-Za-z_][\w.\-]*) =(?: (.*))?$")


def parse_qstat_full(text: str) -> dict[str, dict[str, str]]:
    """Every job record of ``qstat -f`` output as ``{job_id: {attribute: value}}``.

    Attribute names keep their resource suffix (``resources_used.walltime``). Raises
    :class:`SchedulerOutputError` for a line outside any attribute that is neither a ``Job Id:``
    header nor blank.
    """
    if not isinstance(text, str):
        raise SchedulerOutputError("qstat -f output is not text", text=repr(text))
    jobs: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last_key: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.rstrip("\r")
        if line.startswith("\t") and current is not None and last_key is not None:
            current[last_key] += line[1:]  # a continuation, possibly empty
            continue
        if not line.strip():
            current, last_key = None, None
            continue
        if line.startswith("\t"):
            raise SchedulerOutputError(
                f"qstat -f line {number}: continuation line outside an attribute", text=text)
        header = _JOB_RE.match(line)
        if header:
            current = jobs.setdefault(header.group(1), {})
            last_key = None
            continue
        attr = _ATTR_RE.match(line)
        if attr and current is not None:
            last_key = attr.group(1)
            current[last_key] = attr.group(2) or ""
            continue
        if current is not None and last_key is not None:
            current[last_key] += "\n" + line  # a raw newline inside a value (qsub -V exports it)
            continue
        raise SchedulerOutputError(
            f"qstat -f line {number} is not 'Job Id: ...', an attribute or a continuation",
            text=text)
    return jobs
