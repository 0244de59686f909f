"""Hypothesis strategies for PBS Pro and Torque command output, each with its ground truth.

The text is written by the simulator's PBS front end (:mod:`clustrix_sim.pbs`: the same
attribute builder and writers that answer ``qstat`` on a simulated cluster) from records of
:func:`~clustrix_sim.strategies.pbs_records.pbs_job_records`; the truth comes from the records.
Public through :mod:`clustrix_sim.strategies`.

- :func:`qstat_outputs` -> :class:`QstatOutput`: ``qstat -f`` as text (PBS Pro 78 / Torque 77
  columns), ``-F json`` (OpenPBS 23's writer), ``-F dsv`` or the default table; ``truth`` is
  ``{job id as printed: QstatTruth}``.
- :func:`qsub_submissions` -> :class:`QsubSubmission`: ``123.server`` / ``123[].server``.
- :func:`pbs_job_ids` -> :class:`PbsJobId`: the id forms users and tools pass around.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from clustrix_sim.pbs.attributes import job_attributes, view_state, views
from clustrix_sim.pbs.common import exit_status
from clustrix_sim.pbs.dialect import PBSPRO, TORQUE
from clustrix_sim.pbs.render import dsv_text, full_text, json_text
from clustrix_sim.pbs.tables import default_table
from clustrix_sim.strategies.pbs_records import PBS_T0, pbs_job_records

__all__ = ["PbsJobId", "QstatOutput", "QstatTruth", "QsubSubmission", "pbs_job_ids", "qstat_outputs",
           "qsub_submissions"]

SERVERS = ("pbs-server", "pbs01.hpc.example.org", "torque-server", "x")


class _Pair:
    text: str

    @property
    def truth(self) -> Any:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        return iter((self.text, self.truth))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass(frozen=True)
class QstatTruth:
    """One printed job: ``letter`` (``job_state``), ``exit_status`` as printed (None when not
    printed), ``engine_state`` (the simulator's base state; None for an array parent) and
    ``kind`` (``job``, ``subjob`` or ``array``)."""

    letter: str
    exit_status: int | None
    engine_state: str | None
    kind: str


@dataclass(frozen=True)
class QstatOutput(_Pair):
    text: str
    jobs: tuple[tuple[str, QstatTruth], ...]
    flavor: str
    fmt: str

    @property
    def truth(self) -> dict[str, QstatTruth]:
        return dict(self.jobs)


def qstat_outputs(*, flavor: str = "pbs", fmt: str = "json", subjobs: bool = True, hostile: bool = True,
                  max_jobs: int = 5) -> st.SearchStrategy[QstatOutput]:
    """``qstat -f`` (``fmt`` ``text``/``json``/``dsv``) or the default table (``table``) of a
    drawn snapshot, finished jobs included (``-x``; Torque's ``C`` jobs), subjobs expanded with
    ``subjobs`` (``-t``). JSON and DSV exist only for ``flavor="pbs"``."""
    dialect = TORQUE if flavor == "torque" else PBSPRO
    if fmt not in ("text", "json", "dsv", "table") or (flavor == "torque" and fmt in ("json", "dsv")):
        raise ValueError(f"qstat_outputs: fmt {fmt!r} is not a {flavor} qstat output; use text or table"
                         + (", json or dsv" if flavor != "torque" else ""))

    @st.composite
    def build(draw: Any) -> QstatOutput:
        server = draw(st.sampled_from(SERVERS))
        records = draw(pbs_job_records(hostile=hostile, max_jobs=max_jobs))
        now = PBS_T0 + 200_000
        shown = views(list(records), server, subjobs=subjobs)
        if dialect is TORQUE and subjobs:
            shown = [v for v in shown if v.kind != "array"]
        jobs = [(v.id, job_attributes(v, dialect, server, now)) for v in shown]
        truths = []
        for view, (_, attrs) in zip(shown, jobs, strict=True):
            printed = [v for n, r, v in attrs if n == dialect.exit_key]
            truths.append((view.id, QstatTruth(
                letter=view_state(view, dialect), exit_status=int(printed[0]) if printed else None,
                engine_state=None if view.kind == "array" else view.rec.state, kind=view.kind)))
        if fmt == "json":
            text = json_text(jobs, timestamp=int(now), version=dialect.version, server=server)
        elif fmt == "dsv":
            text = dsv_text(jobs)
        elif fmt == "table":
            text = default_table(jobs, dialect)
        else:
            text = full_text(jobs, dialect.wrap)
        return QstatOutput(text=text, jobs=tuple(truths), flavor=flavor, fmt=fmt)

    return build()


def record_exit_status(record, flavor: str = "pbs") -> int | None:
    """The ``Exit_status`` the front end prints for one record (the oracle's own rule)."""
    return exit_status(record, TORQUE if flavor == "torque" else PBSPRO)


@dataclass(frozen=True)
class QsubSubmission(_Pair):
    text: str
    job_id: str

    @property
    def truth(self) -> str:
        return self.job_id


def qsub_submissions(*, flavor: str = "pbs") -> st.SearchStrategy[QsubSubmission]:
    """What a successful ``qsub`` prints: ``<seq>.<server>\\n`` or ``<seq>[].<server>\\n``."""

    @st.composite
    def build(draw: Any) -> QsubSubmission:
        job_id = f"{draw(st.integers(0, 9_999_999))}{draw(st.sampled_from(['', '[]']))}." \
                 f"{draw(st.sampled_from(SERVERS))}"
        return QsubSubmission(text=job_id + "\n", job_id=job_id)

    return build()


@dataclass(frozen=True)
class PbsJobId(_Pair):
    """``text`` as written; ``seq``, ``index`` (None, ``""`` for ``[]``, or the subjob) and
    ``server`` (None when left out)."""

    text: str
    seq: int
    index: int | str | None
    server: str | None

    @property
    def truth(self) -> tuple[int, int | str | None, str | None]:
        return self.seq, self.index, self.server


def pbs_job_ids() -> st.SearchStrategy[PbsJobId]:
    """``123``, ``123.server``, ``123[]``, ``123[].server``, ``123[4]``, ``123[4].server``."""

    @st.composite
    def build(draw: Any) -> PbsJobId:
        seq = draw(st.integers(0, 9_999_999))
        index = draw(st.one_of(st.none(), st.just(""), st.integers(0, 100_000)))
        server = draw(st.one_of(st.none(), st.sampled_from(SERVERS)))
        text = str(seq) + ("" if index is None else f"[{index}]") + (f".{server}" if server else "")
        return PbsJobId(text=text, seq=seq, index=index, server=server)

    return build()
