"""``qstat -xml``: running jobs under ``<queue_info>``, pending ones under ``<job_info>``, in the
element order and indentation of real 8.1.9 (``tests/data/sge_real/``)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from clustrix_sim.sge.common import iso_date
from clustrix_sim.sge.qstat_rows import Row

__all__ = ["render"]

_HEAD = ("<?xml version='1.0'?>\n<job_info  xmlns:xsd=\"http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/"
         "resources/schemas/qstat/qstat.xsd\">\n")


def _job(row: Row) -> list[str]:
    kind = "running" if row.running else "pending"
    when = ("JAT_start_time", iso_date(row.when)) if row.running else ("JB_submission_time", iso_date(row.when))
    out = [f'    <job_list state="{kind}">',
           f"      <JB_job_number>{row.number}</JB_job_number>",
           f"      <JAT_prio>{row.prio:.5f}</JAT_prio>",
           f"      <JB_name>{escape(row.name)}</JB_name>",
           f"      <JB_owner>{escape(row.user)}</JB_owner>",
           f"      <state>{row.state}</state>",
           f"      <{when[0]}>{when[1]}</{when[0]}>",
           f"      <queue_name>{escape(row.queue)}</queue_name>",
           f"      <slots>{row.slots}</slots>"]
    if row.tasks:
        out.append(f"      <tasks>{row.tasks}</tasks>")
    return out + ["    </job_list>"]


def render(rows: list[Row]) -> str:
    lines = ["  <queue_info>"]
    for row in rows:
        if row.running:
            lines += _job(row)
    lines += ["  </queue_info>", "  <job_info>"]
    for row in rows:
        if not row.running:
            lines += _job(row)
    lines += ["  </job_info>", "</job_info>"]
    return _HEAD + "\n".join(lines) + "\n"
