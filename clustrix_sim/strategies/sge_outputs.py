"""Hypothesis strategies for Grid Engine tool outputs (qstat table and ``-xml``, ``qacct -j``,
``qsub``), each with its truth.

Public through :mod:`clustrix_sim.strategies`. The text is rendered by the simulator's Grid Engine
front end (:mod:`clustrix_sim.sge`, checked byte for byte against real 8.1.9); the truth comes
from the engine records it was rendered from: for qstat the state letters of every job and task
(``"123"`` or ``"123.4"``), for qacct the engine's final state, the ``failed`` code and the
``exit_status`` of every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from clustrix_sim.engine.model import JobRecord, JobRequest
from clustrix_sim.sge.common import state_code
from clustrix_sim.sge.qacct import block, failed_and_exit
from clustrix_sim.sge.qstat import table
from clustrix_sim.sge.qstat_rows import rows
from clustrix_sim.sge.qstat_xml import render

__all__ = ["QacctOutput", "QacctTruth", "QstatOutput", "QsubSubmission", "qacct_outputs", "qstat_outputs",
           "qsub_submissions", "sge_job_names", "sge_job_records"]

T0 = 1736157600.0
MAX_SGE_JOB_ID = 9_999_999  # past 7 digits the id column widens (parse by whitespace/XML)
_FORBIDDEN = set("\n\t\r /:@\\*?'\"")


def sge_job_names() -> st.SearchStrategy[str]:
    """Job names qsub -N accepts: no blanks, ``/ : @ \\ * ?`` or quotes; XML specials and
    unicode allowed, long ones cut to 10 columns in the table."""
    chars = st.characters(min_codepoint=33, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
    return st.text(chars, min_size=1, max_size=40).filter(lambda s: not set(s) & _FORBIDDEN)


class _Pair:
    text: str

    @property
    def truth(self) -> Any:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        return iter((self.text, self.truth))


@dataclass(frozen=True, repr=False)
class QstatOutput(_Pair):
    """qstat text (``-xml`` or the default table) and ``{job or job.task: state letters}``."""

    text: str
    states: dict[str, str] = field(default_factory=dict)
    xml: bool = True

    @property
    def truth(self) -> dict[str, str]:
        return self.states

    def __repr__(self) -> str:
        return f"QstatOutput(xml={self.xml}, text={self.text!r})"


@dataclass(frozen=True)
class QacctTruth:
    state: str  # the engine's final state: COMPLETED FAILED TIMEOUT CANCELLED OUT_OF_MEMORY
    failed: int
    exit_status: int


@dataclass(frozen=True, repr=False)
class QacctOutput(_Pair):
    text: str
    runs: dict[str, QacctTruth] = field(default_factory=dict)

    @property
    def truth(self) -> dict[str, QacctTruth]:
        return self.runs

    def __repr__(self) -> str:
        return f"QacctOutput(text={self.text!r})"


@dataclass(frozen=True, repr=False)
class QsubSubmission(_Pair):
    text: str
    job_id: str

    @property
    def truth(self) -> str:
        return self.job_id

    def __repr__(self) -> str:
        return f"QsubSubmission(text={self.text!r})"


@st.composite
def _job(draw: st.DrawFn, number: int, *, finished: bool) -> list[JobRecord]:
    name = draw(sge_job_names())
    user = draw(st.sampled_from(["alice", "bob", "a_very_long_user_name", "u1"]))
    slots = draw(st.sampled_from([1, 1, 2, 4, 16]))
    opts: dict[str, Any] = {}
    array = draw(st.booleans())
    tasks = [None]
    if array:
        first, step = draw(st.integers(1, 5)), draw(st.integers(1, 3))
        tasks = list(range(first, first + step * draw(st.integers(1, 6)), step))
        opts.update(task_first=tasks[0], task_last=tasks[-1], task_step=step)
    submit = T0 + draw(st.integers(0, 10**7))
    out = []
    for offset, task in enumerate(tasks):
        req = JobRequest(script="", name=name, user=user, uid=1000, work_dir="/home/" + user, cpus_per_task=slots,
                         partition="all.q", flavor_options=dict(opts))
        rec = JobRecord(job_id=number + offset, request=req, array_job_id=number if array else None,
                        array_task_id=task, submit_time=submit, partition="all.q")
        out.append(draw(_finish(rec) if finished else _activate(rec)))
    return out


@st.composite
def _activate(draw: st.DrawFn, rec: JobRecord) -> JobRecord:
    kind = draw(st.sampled_from(["qw", "hqw", "dep", "r", "dr"]))
    if kind in ("qw", "hqw", "dep"):
        rec.state, rec.held = "PENDING", kind == "hqw"
        rec.reason = "Dependency" if kind == "dep" else ("JobHeldUser" if rec.held else "None")
        return rec
    rec.state = "RUNNING" if kind == "r" else "COMPLETING"
    rec.start_time = rec.submit_time + draw(st.integers(0, 86400))
    rec.node_list = [draw(st.sampled_from(["c1", "node-02", "compute.example.org"]))]
    return rec


@st.composite
def _finish(draw: st.DrawFn, rec: JobRecord) -> JobRecord:
    state = draw(st.sampled_from(["COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY"]))
    rec.state = state
    rec.start_time = rec.submit_time + draw(st.integers(0, 3600))
    wall = draw(st.integers(1, 7200))
    rec.end_time = rec.start_time + wall
    rec.node_list = ["c1"]
    slots = rec.request.cpus_per_task
    if state == "FAILED":
        rec.exit_code = draw(st.integers(1, 127))
    elif state == "CANCELLED":
        rec.exit_signal = 9
    elif state == "TIMEOUT":  # killed at h_rt: the wallclock reached the limit
        rec.request.flavor_options["category"] = f"-l h_rt={wall}"
    elif state == "OUT_OF_MEMORY":  # killed near h_vmem x slots
        per_slot = draw(st.integers(64, 4096))
        rec.request.flavor_options["category"] = f"-l h_vmem={per_slot}M" + (f" -pe smp {slots}" if slots > 1 else "")
        rec.max_rss_mb = per_slot * slots * draw(st.sampled_from([0.95, 1.0, 1.2]))
    return rec


@st.composite
def sge_job_records(draw: st.DrawFn, *, min_jobs: int = 0, max_jobs: int = 8,
                    finished: bool = False) -> tuple[JobRecord, ...]:
    """Records of several Grid Engine jobs (arrays included), live or ``finished``."""
    count = draw(st.integers(min_jobs, max_jobs))
    number = draw(st.integers(1, MAX_SGE_JOB_ID - 100 * (count + 1)))
    out: list[JobRecord] = []
    for _ in range(count):
        out += draw(_job(number, finished=finished))
        number += draw(st.integers(7, 100))
    return tuple(out)


@st.composite
def qstat_outputs(draw: st.DrawFn, *, xml: bool | None = None, max_jobs: int = 8) -> QstatOutput:
    """``qstat -xml`` (or the default table) of the caller's live jobs."""
    records = list(draw(sge_job_records(max_jobs=max_jobs)))
    as_xml = draw(st.booleans()) if xml is None else xml
    shown = rows(records)
    text = render(shown) if as_xml else table(shown)
    states = {}
    for rec in records:
        key = f"{rec.array_job_id}.{rec.array_task_id}" if rec.array_job_id is not None else str(rec.job_id)
        states[key] = state_code(rec)
    return QstatOutput(text, states, as_xml)


@st.composite
def qacct_outputs(draw: st.DrawFn, *, max_jobs: int = 4) -> QacctOutput:
    """``qacct -j`` text of finished runs (one block per task)."""
    records = list(draw(sge_job_records(min_jobs=1, max_jobs=max_jobs, finished=True)))
    text = "".join(block(rec, rec.node_list[0]) for rec in records)
    runs = {}
    for rec in records:
        key = f"{rec.array_job_id}.{rec.array_task_id}" if rec.array_job_id is not None else str(rec.job_id)
        failed, status = failed_and_exit(rec)
        runs[key] = QacctTruth(rec.state, failed, status)
    return QacctOutput(text, runs)


@st.composite
def qsub_submissions(draw: st.DrawFn) -> QsubSubmission:
    """What qsub prints for an accepted job: terse or chatty, plain or an array."""
    number = draw(st.integers(1, MAX_SGE_JOB_ID))
    name = draw(sge_job_names())
    first, step, count = draw(st.integers(1, 100)), draw(st.integers(1, 5)), draw(st.integers(1, 50))
    shown = f"{number}.{first}-{first + step * (count - 1)}:{step}"
    array, terse = draw(st.booleans()), draw(st.booleans())
    if terse:
        text = (shown if array else str(number)) + "\n"
    elif array:
        text = f'Your job-array {shown} ("{name}") has been submitted\n'
    else:
        text = f'Your job {number} ("{name}") has been submitted\n'
    return QsubSubmission(text, str(number))
