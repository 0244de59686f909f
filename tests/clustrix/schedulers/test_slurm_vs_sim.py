"""Fuzz clustrix's SLURM parsers against the simulator (an independent oracle).

The text comes from ``clustrix_sim.strategies``, rendered by the simulator's own sacct/squeue
formatters in exactly the format clustrix pins (read from ``status_argv`` and
``fallback_status_argv`` themselves, so a change of the pinned format is followed here). For every
job id the truth names, the parser must return the state clustrix documents
(``slurm_states.STATES``), the raw text, the reason and the exit code; output that cannot be split
unambiguously must raise :class:`SchedulerOutputError`, never yield wrong data.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers import slurm
from clustrix.schedulers.slurm.states import STATES
from clustrix.states import ACTIVE, JobStatus
from clustrix_sim.engine.model import ACTIVE_STATES, FINAL_STATES
from clustrix_sim.strategies import (
    job_reasons,
    job_records,
    sacct_outputs,
    sbatch_submissions,
    squeue_outputs,
)

FUZZ = settings(max_examples=200, deadline=None)
HOSTILE = job_records(reasons=job_reasons(hostile=True))


def _flag_value(argv: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
    return value


SACCT_ARGV = slurm.status_argv(["1"])
SQUEUE_ARGV = slurm.fallback_status_argv(["1"])
PINNED_SACCT = dict(
    fields=tuple(_flag_value(SACCT_ARGV, "format").split(",")),
    parsable2="--parsable2" in SACCT_ARGV,
    header="--noheader" not in SACCT_ARGV,
    allocations="--allocations" in SACCT_ARGV,
)
PINNED_SQUEUE = dict(
    format=_flag_value(SQUEUE_ARGV, "format"),
    header="--noheader" not in SQUEUE_ARGV,
    array_expanded="--array" in SQUEUE_ARGV,
)


def test_the_pinned_formats_are_the_ones_fuzzed() -> None:
    assert PINNED_SACCT == dict(fields=slurm.SACCT_FIELDS, parsable2=True, header=False,
                                allocations=True)
    assert PINNED_SQUEUE == dict(format=slurm.SQUEUE_FORMAT, header=False, array_expanded=True)


def expected_status(state_text: str, reason: str, exit_pair: tuple[int, int] | None) -> JobStatus:
    """What clustrix documents for one printed row: STATES for the first word of the state,
    ``exit_code`` = code, or 128 + signal, and None while the job is active (or for squeue,
    which prints none); reason ``None`` means no reason."""
    word = state_text.split()[0]
    assert word in STATES, f"the simulator printed {word!r}, which clustrix does not map"
    state = STATES[word][0]
    exit_code = None
    if exit_pair is not None and state not in ACTIVE:
        code, signal = exit_pair
        exit_code = 128 + signal if signal else code
    return JobStatus(state, raw=state_text, reason="" if reason == "None" else reason,
                     exit_code=exit_code)


def check_terminality(record_state: str, status: JobStatus) -> None:
    """Independent of clustrix's table: what the simulator calls final is terminal for clustrix,
    what it calls active is not."""
    if record_state in FINAL_STATES:
        assert status.state.is_terminal, (record_state, status)
    if record_state in ACTIVE_STATES:
        assert not status.state.is_terminal, (record_state, status)


# --- sacct (the status command) ---------------------------------------------------------------------


def looks_like_parsable1(text: str, width: int) -> bool:
    """Every data line ends with '|' and has a '|' per field: --parsable's shape, which the
    parser may refuse (a reason ending in '|' on every line of -P output looks the same)."""
    lines = [ln for ln in text.split("\n") if ln.strip() and not ln.upper().startswith("JOBID|")]
    return bool(lines) and all(ln.endswith("|") and ln.count("|") >= width for ln in lines)


def check_sacct(out) -> None:  # noqa: ANN001 - a SacctOutput
    # Only the last column (Reason) can hold '|', and the parser keeps the rest of the line in
    # it, so even "ambiguous" -P output reads back exactly; refusing is right only for -p's shape.
    if looks_like_parsable1(out.text, len(slurm.SACCT_FIELDS)):
        try:
            slurm.parse_status(out.text)
        except SchedulerOutputError:
            return
    expected: dict[str, JobStatus] = {}
    for row in out.rows:
        if row.step is None:
            status = expected_status(row.state, row.reason, (row.exit_code, row.exit_signal))
            check_terminality(row.record.state, status)
            expected.update(dict.fromkeys(row.covers, status))
    assert slurm.parse_status(out.text) == expected


@FUZZ
@given(sacct_outputs(**PINNED_SACCT))
def test_parse_status_reads_what_sacct_printed(out) -> None:  # noqa: ANN001
    check_sacct(out)


@FUZZ
@given(st.data())
def test_parse_status_tolerates_a_header_and_step_lines(data: st.DataObject) -> None:
    out = data.draw(sacct_outputs(fields=slurm.SACCT_FIELDS, header=data.draw(st.booleans()),
                                  allocations=data.draw(st.booleans())))
    check_sacct(out)


@FUZZ
@given(st.sampled_from([None, HOSTILE]).flatmap(lambda records: sacct_outputs(
    fields=slurm.SACCT_FIELDS, parsable2=False, parsable=True, records=records)))
def test_parse_status_reads_or_refuses_parsable_with_trailing_pipes(out) -> None:  # noqa: ANN001
    # Not the pinned -P form: reading it correctly or refusing it are both fine; wrong is not.
    try:
        slurm.parse_status(out.text)
    except SchedulerOutputError:
        return
    check_sacct(out)


@FUZZ
@given(sacct_outputs(**{**PINNED_SACCT, "records": HOSTILE}))
def test_parse_status_reads_reasons_holding_pipes(out) -> None:  # noqa: ANN001
    check_sacct(out)


@pytest.mark.parametrize("parse, text", [
    (slurm.parse_status, "1|PENDING|0:0|0|\n"),  # sacct -P: JobID 1, PENDING, 0:0, Reason '0|'
    (slurm.parse_fallback_status, "1|PENDING|0|\n"),  # squeue %i|%T|%r with Reason '0|'
])
def test_reason_ending_in_a_pipe_is_not_misread(parse, text) -> None:  # noqa: ANN001
    try:
        got = parse(text)
    except SchedulerOutputError:
        return
    assert got["1"].reason == "0|", f"{text!r} silently misread as {got!r}"


@FUZZ
@given(st.booleans().flatmap(lambda header: sacct_outputs(
    fields=slurm.SACCT_FIELDS, parsable2=False, header=header)))
def test_fixed_width_sacct_is_refused_not_misread(out) -> None:  # noqa: ANN001
    if not out.text:
        assert slurm.parse_status(out.text) == {}
        return
    with pytest.raises(SchedulerOutputError):
        slurm.parse_status(out.text)


# --- squeue (the fallback when accounting is off) ---------------------------------------------------


def check_squeue(out) -> None:  # noqa: ANN001 - a SqueueOutput
    if looks_like_parsable1(out.text, 3):  # a reason ending in '|' on every line
        try:
            slurm.parse_fallback_status(out.text)
        except SchedulerOutputError:
            return
    expected: dict[str, JobStatus] = {}
    for row in out.rows:
        status = expected_status(row.state, row.reason, None)
        check_terminality(row.record.state, status)
        expected.update(dict.fromkeys(row.covers, status))
    assert slurm.parse_fallback_status(out.text) == expected


@FUZZ
@given(squeue_outputs(**PINNED_SQUEUE))
def test_parse_fallback_status_reads_what_squeue_printed(out) -> None:  # noqa: ANN001
    check_squeue(out)


@FUZZ
@given(st.booleans().flatmap(lambda header: squeue_outputs(
    format=slurm.SQUEUE_FORMAT, header=header, array_expanded=False)))
def test_parse_fallback_status_expands_folded_arrays(out) -> None:  # noqa: ANN001
    check_squeue(out)


@FUZZ
@given(squeue_outputs(**{**PINNED_SQUEUE, "records": HOSTILE}))
def test_parse_fallback_status_reads_reasons_holding_pipes(out) -> None:  # noqa: ANN001
    check_squeue(out)


# --- sbatch --parsable ------------------------------------------------------------------------------


@FUZZ
@given(sbatch_submissions())
def test_parse_submit_reads_the_job_id(sub) -> None:  # noqa: ANN001 - an SbatchSubmission
    assert slurm.parse_submit(sub.stdout) == sub.job_id
    assert slurm.parse_submit(sub.merged) == sub.job_id  # chatter first, as sbatch prints it
    assert slurm.parse_submit(sub.stdout + sub.stderr) == sub.job_id  # or interleaved after

