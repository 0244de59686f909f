"""``qstat``'s one-line-per-job layouts: the default table and the alternate (``-a``/``-u``) one.

Default (OpenPBS ``display_statjob``): ``%-17s %-16s %-16s  %8s %1s %-16s``; the id is cut to
``seq.<first server label>``, a longer id ends in ``*`` at column 17, a name of 16 or more
characters becomes 15 plus ``*``, the owner loses ``@host``, an unset cput prints ``0``.
Torque (``display_job_summary``): ``%-30s %-16s %-15s %8s %1s %-15s``, a long name becomes
``...`` plus its tail, nothing else is marked.

Alternate (OpenPBS ``altdsp_statjob``): a server header, then ``%-15.15s %-8.8s %-8.8s
%-10.10s %6.6s %3.3s %3.3s %6.6s %5.5s %1.1s %5.5s``; a value longer than its column has
its last shown character replaced by ``*`` (``trunc_value``); unset values print ``--``;
``-n`` adds the exec hosts (indented three spaces, or after the row with ``-1``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clustrix_sim.pbs.dialect import Dialect

__all__ = ["alternate_table", "default_table"]

Attrs = list[tuple[str, "str | None", str]]


def _get(attrs: Attrs, name: str, resource: str | None = None) -> str | None:
    for n, r, v in attrs:
        if n == name and r == resource:
            return v
    return None


def _cut(value: str, width: int, marker: str) -> str:
    if len(value) > width:
        return value[:width - 1] + marker if marker else value[:width]
    return value


def short_id(job_id: str) -> str:
    """``123.pbs.example.org`` -> ``123.pbs`` (the sequence number and the first server label)."""
    seq, dot, rest = job_id.partition(".")
    return seq + dot + rest.split(".")[0] if dot else seq


def default_table(jobs: list[tuple[str, Attrs]], dialect: Dialect, *, header: bool = True) -> str:
    out = [dialect.table_header] if header and jobs else []
    for job_id, attrs in jobs:
        name = _get(attrs, "Job_Name") or ""
        owner = (_get(attrs, "Job_Owner") or "").split("@")[0]
        queue = (_get(attrs, "queue") or "").split("@")[0]
        cput = _get(attrs, "resources_used", "cput") or "0"
        state = _get(attrs, "job_state") or "?"
        if dialect.name == "torque":
            shown_id = job_id[:33] if len(job_id) > 27 else job_id  # PBS_MAXSEQNUM + 7 + 8, cut at + 14
            if len(name) > 16:
                tail = name[len(name) - 13:]
                slash = tail.find("/")
                name = "..." + (tail[slash:] if slash >= 0 else tail)
            owner = owner[:dialect.user_width]
            cput = cput[:8]
        else:
            shown_id = _cut(short_id(job_id), dialect.id_width, "*")
            name = name[:15] + "*" if len(name) >= 16 else name
            owner = _cut(owner, dialect.user_width, "*")
            cput = _cut(cput, 8, "*")
            queue = _cut(queue, dialect.queue_width, "*")
        out.append(dialect.table_row.format(id=shown_id, name=name, user=owner, time=cput, state=state[:1],
                                            queue=queue))
    return "".join(out)


def _trunc(value: str, width: int) -> str:
    if len(value) > width:
        value = value[:width - 1] + "*"
    return value[:width]


def alternate_table(jobs: list[tuple[str, Attrs]], server: str, *, nodes: bool = False,
                    one_line: bool = False) -> str:
    out = [f"\n{server}: \n", " " * 60 + "Req'd  Req'd   Elap\n",
           "Job ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n",
           "--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n"]
    for job_id, attrs in jobs:
        def val(name: str, resource: str | None = None, width: int = 0, attrs: Attrs = attrs) -> str:
            value = _get(attrs, name, resource)
            if value in (None, ""):
                return "--"
            return _trunc(value, width) if width else value

        tasks = _get(attrs, "Resource_List", "ncpus")
        row = (f"{_trunc(job_id, 15):<15.15} {_trunc((_get(attrs, 'Job_Owner') or '--').split('@')[0], 8):<8.8} "
               f"{val('queue', width=8):<8.8} {val('Job_Name', width=10):<10.10} {val('session_id', width=6):>6.6} "
               f"{val('Resource_List', 'nodect', 3):>3.3} "
               f"{(_trunc(tasks, 3) if tasks and tasks != '0' else '--'):>3.3} "
               f"{val('Resource_List', 'mem'):>6.6} {val('Resource_List', 'walltime'):>5.5} "
               f"{val('job_state'):>1.1} {val('resources_used', 'walltime'):>5.5}")
        out.append(row + (" " if one_line else "\n"))
        if nodes:
            hosts = _get(attrs, "exec_host")
            if hosts:
                out.append(f"{hosts}\n" if one_line else f"   {hosts}\n")
            elif one_line:
                out.append("\n")
        elif one_line:
            out.append("\n")
    return "".join(out)
