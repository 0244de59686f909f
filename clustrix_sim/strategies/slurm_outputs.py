"""Hypothesis strategies for SLURM tool *outputs* (sacct, squeue, sbatch), each with its truth.

Public through :mod:`clustrix_sim.strategies` (import from there); the text is rendered by the
simulator's SLURM front end, the truth comes from the records it was rendered from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.slurm import squeue_fields
from clustrix_sim.slurm.common import group_pending_tasks, job_display_id
from clustrix_sim.slurm.sacct import accounting_order, rows_for
from clustrix_sim.slurm.sacct_fields import SacctRow, find_field, format_lines
from clustrix_sim.slurm.sbatch import submitted_text
from clustrix_sim.slurm.squeue import sort_key  # squeue's default order
from clustrix_sim.slurm.states import compact
from clustrix_sim.strategies.slurm_records import MAX_JOB_ID, T0, job_records

__all__ = [
    "SacctOutput",
    "SacctRowTruth",
    "SbatchSubmission",
    "SqueueOutput",
    "SqueueRowTruth",
    "sacct_outputs",
    "sbatch_submissions",
    "squeue_outputs",
]


class _Pretty:
    """Hypothesis prints failing examples with this repr (its default would dump the records)."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


class _Pair(_Pretty):
    """``text, truth = result``."""

    text: str

    @property
    def truth(self) -> Any:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        return iter((self.text, self.truth))


def _covers(records: Sequence[JobRecord], rec: JobRecord, shown: str) -> tuple[str, ...]:
    """The job ids one printed row reports on: every task of a folded ``A_[..]`` row (the
    array's tasks that never started and share ``rec``'s state)."""
    if "_[" not in shown:
        return (shown,)
    tasks = sorted(r.array_task_id for r in records
                   if r.array_job_id == rec.array_job_id and r.state == rec.state
                   and not r.node_list and r.array_task_id is not None)
    return tuple(f"{rec.array_job_id}_{t}" for t in tasks)


def _now(draw: Any, records: Sequence[JobRecord]) -> float:
    """A simulated clock at or after every time in the records."""
    times = [t for r in records for t in (r.submit_time, r.start_time, r.end_time) if t]
    return max(times, default=T0) + draw(st.integers(0, 10 * 86400))


# --- sacct ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SacctRowTruth(_Pretty):
    """One printed sacct line, before formatting.

    ``job_id`` is the JobID as printed in full (``123``, ``123_4``, ``123_[5-9%2]``,
    ``123.batch``); ``step`` the step name or None for the job (allocation) line; ``covers`` the
    job ids the line reports on (each pending task of a folded array row); ``state`` the State
    text (``CANCELLED by 1000``); ``exit_code``/``exit_signal`` the two halves of ExitCode;
    ``reason`` the Reason text; ``cells`` the untruncated, unpadded value of every requested
    field in order; ``record`` the simulator record behind the line (the first task of a folded
    row).
    """

    job_id: str
    step: str | None
    covers: tuple[str, ...]
    state: str
    exit_code: int
    exit_signal: int
    reason: str
    cells: tuple[str, ...]
    record: JobRecord = field(compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class SacctOutput(_Pair):
    """``sacct`` stdout and its truth.

    ``fields`` are the resolved field names; ``rows`` the lines in printed order (``truth`` maps
    printed JobID -> row). ``ambiguous``: parsable output where some value contains the
    delimiter, so splitting a line does not give back its values (a parser should refuse it).
    ``truncated``: fixed-width output where some value was cut to ``...+``.
    """

    text: str
    fields: tuple[str, ...]
    rows: tuple[SacctRowTruth, ...]
    ambiguous: bool
    truncated: bool
    style: str  # "parsable2" (-P), "parsable" (-p) or "fixed"
    header: bool
    delimiter: str

    @property
    def truth(self) -> Mapping[str, SacctRowTruth]:
        return {row.job_id: row for row in self.rows}


_SACCT_PINNED = ("JobID", "State", "ExitCode", "Reason")


def sacct_outputs(
    *,
    fields: Sequence[str] = _SACCT_PINNED,
    parsable2: bool = True,
    parsable: bool = False,
    delimiter: str = "|",
    header: bool = False,
    allocations: bool = True,
    records: st.SearchStrategy[Sequence[JobRecord]] | None = None,
    extern: bool | None = None,
) -> st.SearchStrategy[SacctOutput]:
    """``sacct [--noheader] [--parsable2|--parsable] [--allocations] --format=FIELDS`` output.

    ``fields`` are sacct ``--format`` items (case-insensitive prefixes, ``Name%width``).
    ``parsable2`` (-P) separates values with ``delimiter``; otherwise ``parsable`` (-p) ends each
    value with it; with neither the output is sacct's fixed-width table (``+``-truncated values,
    dash line under the header, a trailing space on every line). Without ``allocations`` the
    ``.batch`` step lines of started jobs follow their job, and ``.extern`` ones when ``extern``
    (a site with PrologFlags=Contain; drawn when None). ``records`` defaults to
    :func:`job_records`.
    """
    if isinstance(fields, str):
        raise TypeError(f"fields must be a sequence of names, e.g. ({fields!r},)")
    resolved = []
    for name in fields:
        found = find_field(name)
        if found is None:
            raise ValueError(f"unknown sacct field {name!r}; use a name from "
                             "clustrix_sim.slurm.sacct_fields.FIELDS, e.g. 'JobID' or 'State%20'")
        resolved.append(found)
    if not resolved:
        raise ValueError("fields must name at least one sacct field")
    if not delimiter:
        raise ValueError("delimiter must not be empty")
    style = "parsable2" if parsable2 else ("parsable" if parsable else "fixed")
    record_st = records if records is not None else job_records()
    state_f, exit_f, reason_f = (find_field(n)[2] for n in ("State", "ExitCode", "Reason"))

    @st.composite
    def build(draw: Any) -> SacctOutput:
        recs = list(draw(record_st))
        now = float(_now(draw, recs))
        recs.sort(key=accounting_order)
        with_extern = draw(st.booleans()) if extern is None else extern
        rows: list[SacctRow] = rows_for(recs, now, allocations, with_extern)
        text = format_lines(rows, resolved, header=header,
                            parsable={"parsable2": "P", "parsable": "p"}.get(style),
                            delimiter=delimiter)
        truths = []
        for row in rows:
            code, _, signal = exit_f(row).partition(":")
            truths.append(SacctRowTruth(
                job_id=row.job_id_text + (f".{row.step}" if row.step else ""),
                step=row.step,
                covers=_covers(recs, row.record, row.job_id_text),
                state=state_f(row),
                exit_code=int(code),
                exit_signal=int(signal),
                reason=reason_f(row),
                cells=tuple(func(row) for _, _, func in resolved),
                record=row.record,
            ))
        cells = [(c, w) for t in truths for c, (_, w, _) in zip(t.cells, resolved, strict=True)]
        return SacctOutput(
            text=text,
            fields=tuple(name for name, _, _ in resolved),
            rows=tuple(truths),
            ambiguous=style != "fixed" and any(delimiter in c or "\n" in c for c, _ in cells),
            truncated=style == "fixed" and any(len(c) > abs(w) for c, w in cells),
            style=style,
            header=header,
            delimiter=delimiter,
        )

    return build()


# --- squeue -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqueueRowTruth(_Pretty):
    """One printed squeue line: ``job_id`` as ``%i`` prints it, ``covers`` the job ids it reports
    on, ``state``/``compact`` the long and short state, ``reason`` the ``%r`` text, ``cells`` the
    unpadded value of each format field in order (literal text between fields excluded),
    ``record`` the simulator record behind it."""

    job_id: str
    covers: tuple[str, ...]
    state: str
    compact: str
    reason: str
    cells: tuple[str, ...]
    record: JobRecord = field(compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class SqueueOutput(_Pair):
    """``squeue`` stdout and its truth. ``separators`` are the literal texts of the format
    between fields; ``ambiguous`` when a value contains one of them (or a newline), so
    splitting on them does not give back the values; ``truncated`` when a fixed width cut a
    value."""

    text: str
    format: str
    rows: tuple[SqueueRowTruth, ...]
    separators: tuple[str, ...]
    ambiguous: bool
    truncated: bool
    header: bool

    @property
    def truth(self) -> Mapping[str, SqueueRowTruth]:
        return {row.job_id: row for row in self.rows}


_LETTER = re.compile(r"%\.?\d*.", re.S)


def squeue_outputs(
    *,
    format: str = "%i|%T|%r",  # squeue's own option name (-o/--format)
    header: bool = False,
    array_expanded: bool = True,
    records: st.SearchStrategy[Sequence[JobRecord]] | None = None,
) -> st.SearchStrategy[SqueueOutput]:
    """``squeue [--noheader] [--array] --states=all --format=FORMAT`` output.

    ``format`` is an ``-o`` format (``%.18i``, ``%T``...). With ``array_expanded`` (``-r``) every
    array task has its own line; without it pending tasks fold into ``123_[4-9%2]``. Records
    purged from the queue (``visible_in_queue=False``) are absent, as after MinJobAge.
    """
    warnings: list[str] = []
    fields = squeue_fields.parse_format(format, warnings.append)
    if warnings or "%" not in format:
        raise ValueError(f"bad squeue format {format!r}: {'; '.join(warnings) or 'no %-field'}")
    literals = tuple(sorted({p for p in _LETTER.split(format) if p}))
    first = format.find("%")
    value_fields = fields[1:] if first > 0 else fields  # a literal prefix is its own field
    record_st = records if records is not None else job_records()

    @st.composite
    def build(draw: Any) -> SqueueOutput:
        recs = sorted((r for r in draw(record_st) if r.visible_in_queue), key=sort_key(None))
        now = float(_now(draw, recs))
        pairs = ([(r, job_display_id(r)) for r in recs] if array_expanded
                 else group_pending_tasks(recs))
        rows = [squeue_fields.Row(rec, shown, now) for rec, shown in pairs]
        text = squeue_fields.render(rows, fields, header=header)
        truths = tuple(
            SqueueRowTruth(job_id=row.display_id, covers=_covers(recs, row.record, row.display_id),
                           state=row.record.state, compact=compact(row.record.state),
                           reason=squeue_fields.LETTERS["r"][1](row),
                           cells=tuple(f.value(row) for f in value_fields), record=row.record)
            for row in rows)
        values = [(f, f.value(row)) for row in rows for f in value_fields]
        return SqueueOutput(
            text=text, format=format, rows=truths, separators=literals, header=header,
            ambiguous=any("\n" in v or any(s in v for s in literals) for _, v in values),
            truncated=any(f.width and len(v) > f.width and (f.cut or not f.right)
                          for f, v in values),
        )

    return build()


# --- sbatch -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SbatchSubmission(_Pair):
    """What ``sbatch [--parsable] [-M cluster] SCRIPT`` printed: ``stdout`` (= ``text``),
    ``stderr`` (job_submit plugin chatter, ``sbatch: ...`` lines, printed before the id),
    ``job_id`` (= ``truth``) and ``cluster``. ``merged`` is both streams as a transport that
    joins them would deliver them."""

    stdout: str
    stderr: str
    job_id: str
    cluster: str | None
    parsable: bool

    @property
    def text(self) -> str:  # type: ignore[override]
        return self.stdout

    @property
    def truth(self) -> str:
        return self.job_id

    @property
    def merged(self) -> str:
        return self.stderr + self.stdout


_CHATTER = (
    "Your job has no time specification (--time=). The maximum time for the partition is used.",
    "Job submitted to partition normal with QOS normal",
    "warning: can't honor --ntasks-per-node set to 1 which doesn't match the requested tasks",
    "Submitting job with 1 CPU and 2G of memory: 123 456",
    "Verify job submission ...",
)


def sbatch_submissions(*, parsable: bool | None = None, clusters: bool = True,
                       chatter: bool = True) -> st.SearchStrategy[SbatchSubmission]:
    """Successful sbatch output: ``123`` / ``123;cluster`` with ``parsable``, ``Submitted batch
    job 123[ on cluster foo]`` without (None: either). ``clusters`` adds ``-M`` cluster names;
    ``chatter`` adds ``sbatch: <message>`` lines on stderr (some containing digits)."""
    # The format is sbatch.c's (see clustrix_sim/slurm/sbatch.py _submit, which prints it inline
    # after a controller call and so can not be reused here).

    @st.composite
    def build(draw: Any) -> SbatchSubmission:
        job_id = draw(st.integers(1, MAX_JOB_ID))
        is_parsable = draw(st.booleans()) if parsable is None else parsable
        cluster = draw(st.one_of(st.none(), st.sampled_from(["foo", "cluster-2", "gpu_a100"]))
                       ) if clusters else None
        stdout = submitted_text(job_id, cluster=cluster, parsable=is_parsable)
        lines = draw(st.lists(st.sampled_from(_CHATTER), max_size=3)) if chatter else []
        return SbatchSubmission(stdout=stdout, stderr="".join(f"sbatch: {ln}\n" for ln in lines),
                                job_id=str(job_id), cluster=cluster, parsable=is_parsable)

    return build()
