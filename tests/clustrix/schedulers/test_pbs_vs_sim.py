"""Fuzz clustrix's PBS Pro and Torque parsers against the simulator (an independent oracle).

The text comes from ``clustrix_sim.strategies.pbs_qstat_outputs``: the simulator's own ``qstat``
writers (OpenPBS 23's JSON and ``prt_attr`` text, Torque's 77-column text) in exactly the
formats clustrix pins (``STATUS_FLAGS`` checked below). For every job the truth names, the
parser must return the printed state letter and exit status, and a state that agrees with what
the simulator did to the job; text it cannot read must raise :class:`SchedulerOutputError`,
never yield wrong data.
"""

from __future__ import annotations

import re

from hypothesis import given, settings

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers import pbs, torque
from clustrix.states import JobState
from clustrix_sim.strategies import pbs_job_ids
from clustrix_sim.strategies import pbs_qstat_outputs as qstat_outputs
from clustrix_sim.strategies import pbs_qsub_submissions as qsub_submissions

FUZZ = settings(max_examples=150, deadline=None)

# What the simulator did to a job -> the state a correct parser reports. A signal kill without a
# limit reads as CANCELLED when the signal is one qdel sends (9, 15): clustrix documents that
# heuristic (psij reads 265 the same way), so FAILED-by-SIGKILL/SIGTERM may read CANCELLED.
EXPECTED = {
    "PENDING": {JobState.PENDING}, "RUNNING": {JobState.RUNNING}, "COMPLETING": {JobState.RUNNING},
    "COMPLETED": {JobState.COMPLETED}, "CANCELLED": {JobState.CANCELLED}, "TIMEOUT": {JobState.TIMEOUT},
    "OUT_OF_MEMORY": {JobState.OUT_OF_MEMORY},
}


def test_the_pinned_formats_are_the_ones_fuzzed() -> None:
    assert pbs.status_argv(["1.s"]) == ["qstat", "-x", "-f", "-F", "json", "-t", "1.s"]
    assert pbs.fallback_status_argv(["1.s"]) == ["qstat", "-x", "-f", "-t", "1.s"]
    assert torque.status_argv(["1.s"]) == ["qstat", "-f", "-t", "1.s"]


def check(parsed, out, flavor: str) -> None:
    for job_id, truth in out.truth.items():
        status = parsed[job_id]
        assert status.raw == truth.letter, (job_id, status, truth)
        assert status.exit_code == truth.exit_status, (job_id, status, truth)
        if truth.engine_state is None:
            continue
        wanted = set(EXPECTED.get(truth.engine_state, set()))
        if truth.engine_state == "FAILED":
            wanted = {JobState.FAILED, JobState.CANCELLED} if truth.exit_status in (265, 271) else {JobState.FAILED}
        if truth.engine_state == "NODE_FAIL":
            wanted = {JobState.NODE_FAIL} if flavor == "pbs" else {JobState.FAILED}  # Torque: JOB_EXEC_RETRY
        assert status.state in wanted, (job_id, status, truth)


def parse_or_refuse(parse, out):
    """The parse; a refusal only where the text is truly ambiguous: a value holding a blank line
    (raw newlines from ``qsub -V``) looks exactly like the end of a job record."""
    try:
        return parse(out.text)
    except SchedulerOutputError:
        chunks = re.split(r"\n[ \t]*\n", out.text)
        assert any(not chunk.startswith("Job Id: ") for chunk in chunks if chunk), out.text
        return None


@FUZZ
@given(qstat_outputs(flavor="pbs", fmt="json"))
def test_pbs_json_status(out):
    try:
        parsed = pbs.parse_status(out.text)
    except SchedulerOutputError:
        # OpenPBS 23's writer leaves a backslash before a quote alone, so a value ending in two
        # backslashes and a quote closes its string early: no reader can tell where it ends.
        assert '\\\\"' in out.text, out.text
        return
    check(parsed, out, "pbs")


@FUZZ
@given(qstat_outputs(flavor="pbs", fmt="text"))
def test_pbs_text_fallback_status(out):
    parsed = parse_or_refuse(pbs.parse_fallback_status, out)
    if parsed is not None:
        check(parsed, out, "pbs")


@FUZZ
@given(qstat_outputs(flavor="torque", fmt="text"))
def test_torque_text_status(out):
    parsed = parse_or_refuse(torque.parse_status, out)
    if parsed is not None:
        check(parsed, out, "torque")


@FUZZ
@given(qstat_outputs(flavor="torque", fmt="table"))
def test_torque_default_table_is_what_parsl_reads(out):
    """parsl's Torque provider: skip header lines, state is the fifth column, ids prefix-match."""
    rows = [line.split() for line in out.text.splitlines() if line and not line.startswith(("Job", "---"))]
    assert [row[4] for row in rows] == [truth.letter for truth in out.truth.values()]


@FUZZ
@given(qsub_submissions(flavor="pbs"))
def test_qsub_output(out):
    assert pbs.parse_submit(out.text) == out.truth == torque.parse_submit(out.text)


@FUZZ
@given(pbs_job_ids())
def test_task_ids_of_an_array_id(job):
    if job.index == "" and job.server:
        from clustrix.spec import ArraySpec

        tasks = pbs.task_ids(job.text, ArraySpec(size=3))
        assert tasks == [f"{job.seq}[{i}].{job.server}" for i in range(3)]


# -- the two clustrix bugs the fuzzing found, as plain examples --------------------------------------


def test_a_raw_newline_inside_a_value_does_not_break_the_text_status():
    # qsub -V with an exported bash function: Torque and PBS print the value's newline raw.
    text = ("Job Id: 7.srv\n    job_state = C\n    Variable_List = BASH_FUNC_f%%=() {  echo hi\n}"
            ",PBS_O_HOME=/h\n    exit_status = 0\n\n")
    assert torque.parse_status(text)["7.srv"].state is JobState.COMPLETED


def test_a_value_ending_in_a_backslash_and_a_bare_inf_still_parse_as_json():
    # OpenPBS 23 prints "X":"C:\" for -v X='C:\' and "Y":inf for -v Y=inf (strtod reads it).
    text = ('{\n    "Jobs":{\n        "7.srv":{\n            "job_state":"F",\n            "Variable_List":{\n'
            '                "X":"C:\\",\n                "Y":inf\n            },\n'
            '            "Exit_status":0\n        }\n    }\n}\n')
    assert pbs.parse_status(text)["7.srv"].state is JobState.COMPLETED
