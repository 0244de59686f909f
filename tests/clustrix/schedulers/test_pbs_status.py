"""PBS Pro status parsing: captured ``qstat -x -f -F json -t`` and text ``qstat -f`` outputs,
exit-status semantics, tolerance of qstat's known invalid JSON, and Hypothesis properties.

The expected states below are written from the reference (scheduler-formats.md §2.4-2.5) and
OpenPBS ``job.h``, not from the module's tables.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers import pbs
from clustrix.schedulers.pbs.qstat_text import parse_qstat_full
from clustrix.spec import ArraySpec
from clustrix.states import JobState, JobStatus

DATA = Path(__file__).resolve().parents[2] / "data" / "pbs"
S = JobState


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_reference_finished_job_is_completed():
    assert pbs.parse_status(read("qstat_json_finished.json")) == {
        "123.pbs-master": JobStatus(
            S.COMPLETED, "F", "Job run at Mon Jan 06 at 10:00 on (pbs-slave-1:ncpus=4) and finished",
            0),
    }


@pytest.mark.parametrize("text", [read("qstat_json_nojobs.json"), "", "  \n"])
def test_no_matching_jobs_is_an_empty_result(text):
    assert pbs.parse_status(text) == {}


MIXED = {
    "201.pbs-master": (S.PENDING, None),
    "202.pbs-master": (S.PENDING, None),
    "203.pbs-master": (S.RUNNING, None),
    "204.pbs-master": (S.FAILED, 3),
    "205.pbs-master": (S.CANCELLED, 265),  # qdel of a running job: SIGKILL, limits not reached
    "206.pbs-master": (S.TIMEOUT, 271),  # SIGTERM with walltime used >= limit
    "207.pbs-master": (S.TIMEOUT, -29),  # JOB_EXEC_KILL_WALLTIME
    "208.pbs-master": (S.OUT_OF_MEMORY, -27),  # JOB_EXEC_KILL_MEM
    "209.pbs-master": (S.CANCELLED, None),  # deleted while queued: no Exit_status
    "210.pbs-master": (S.OUT_OF_MEMORY, 265),  # SIGKILL with mem used near the limit
    "211.pbs-master": (S.FAILED, 267),  # SIGSEGV
    "212.pbs-master": (S.RUNNING, None),  # exiting: not final yet
    "213.pbs-master": (S.FAILED, -1),  # JOB_EXEC_FAIL1
}


def test_mixed_states_and_exit_statuses():
    result = pbs.parse_status(read("qstat_json_mixed.json"))
    assert {k: (v.state, v.exit_code) for k, v in result.items()} == MIXED
    assert all(v.raw == json.loads(read("qstat_json_mixed.json"))["Jobs"][k]["job_state"]
               for k, v in result.items())
    assert result["201.pbs-master"].reason == "Not Running: Insufficient amount of resource: ncpus"
    assert "walltime 65 exceeded" in result["207.pbs-master"].reason


def test_array_parent_and_subjobs_are_keyed_like_task_ids():
    result = pbs.parse_status(read("qstat_json_array.json"))
    tasks = pbs.task_ids("125[].pbs-master", ArraySpec(4))
    assert [(result[t].state, result[t].exit_code) for t in tasks] == [
        (S.COMPLETED, 0), (S.FAILED, 1), (S.RUNNING, None), (S.PENDING, None)]
    assert result["125[].pbs-master"].state is S.RUNNING  # B: begun


def test_invalid_numbers_and_escapes_from_real_qstat_are_repaired():
    result = pbs.parse_status(read("qstat_json_invalid_number.json"))
    assert result == {"53.testpbs.nas.nasa.gov": JobStatus(
        S.PENDING, "H", "held (qhold, a dependency or an array slot limit); not terminal", None)}


def test_plain_text_before_the_json_object_is_skipped():
    assert pbs.parse_status(read("qstat_json_with_text_prefix.json"))["2000.VMa"].state is S.RUNNING


def test_text_fallback_joins_wrapped_lines():
    jobs = parse_qstat_full(read("qstat_f_running.txt"))
    attrs = jobs["123.pbs-master"]
    assert attrs["comment"] == "Job run at Mon Jan 06 at 10:00 on (pbs-slave-1:ncpus=4:mem=15728640kb)"
    assert attrs["Variable_List"].split(",")[-1] == "PBS_O_HOST=pbs-master"
    assert len(attrs["Variable_List"].split(",")) == 9
    assert attrs["resources_used.walltime"] == "00:00:05"
    assert pbs.parse_fallback_status(read("qstat_f_running.txt"))["123.pbs-master"].state is S.RUNNING


def test_text_fallback_history_and_arrays():
    result = pbs.parse_fallback_status(read("qstat_f_history.txt"))
    assert {k: (v.state, v.exit_code) for k, v in result.items()} == {
        "130.pbs-master": (S.TIMEOUT, 271),
        "131[].pbs-master": (S.RUNNING, None),
        "131[0].pbs-master": (S.COMPLETED, 0),
        "131[1].pbs-master": (S.RUNNING, None),
    }
    assert result["130.pbs-master"].reason.endswith("and finished")


def test_unknown_state_letter_is_unknown_with_a_warning(caplog):
    text = json.dumps({"Jobs": {"9.s": {"job_state": "Z"}}})
    with caplog.at_level(logging.WARNING, logger="clustrix.schedulers.pbs.commands"):
        assert pbs.parse_status(text) == {"9.s": JobStatus(S.UNKNOWN, "Z", "", None)}
    assert "'Z'" in caplog.text


@pytest.mark.parametrize("text", ["not json at all", "{", '{"Jobs": []}', "[1, 2]"])
def test_output_that_is_not_qstat_json_raises_scheduler_output_error(text):
    with pytest.raises(SchedulerOutputError):
        pbs.parse_status(text)


@pytest.mark.parametrize("record", [
    "[]", '{"job_state": 5}', "{}", '{"job_state": "F", "Exit_status": "abc"}',
    '{"job_state": "F", "Exit_status": 1.5}', '{"job_state": "F", "Exit_status": true}',
])
def test_one_unreadable_job_record_concerns_that_job_only(record):
    got = pbs.parse_status('{"Jobs": {"1.s": ' + record + ', "2.s": {"job_state": "R"}}}')
    assert (got["2.s"].state, got["2.s"].raw, got["2.s"].problem) == (JobState.RUNNING, "R", "")
    assert got["1.s"].state is JobState.UNKNOWN and "1.s" in got["1.s"].problem


@pytest.mark.parametrize("text", [
    "garbage before any job\n",
    "\tcontinuation without an attribute\n",
])
def test_text_outside_any_record_is_nobodys(text):
    got = pbs.parse_fallback_status(text + "Job Id: 2.s\n    job_state = R\n")
    assert list(got) == ["2.s"] and (got["2.s"].state, got["2.s"].problem) == (JobState.RUNNING, "")


def test_a_record_without_a_state_concerns_that_job_only():
    got = pbs.parse_fallback_status("Job Id: 1.s\n    Job_Name = x\n\nJob Id: 2.s\n    job_state = R\n")
    assert (got["2.s"].state, got["2.s"].problem) == (JobState.RUNNING, "")
    assert got["1.s"].state is JobState.UNKNOWN and "Job Id: 1.s" in got["1.s"].problem


# --- exit status semantics -------------------------------------------------------------------


def finished(exit_status, **extra):
    attrs = {"job_state": "F", **extra}
    if exit_status is not None:
        attrs["Exit_status"] = exit_status
    return pbs.parse_status(json.dumps({"Jobs": {"1.s": attrs}}))["1.s"]


@pytest.mark.parametrize(("exit_status", "extra", "state"), [
    (0, {}, S.COMPLETED),
    (1, {}, S.FAILED),
    (255, {}, S.FAILED),
    (265, {}, S.CANCELLED),
    (271, {}, S.CANCELLED),
    (262, {}, S.FAILED),  # SIGABRT
    (265, {"resources_used": {"walltime": "01:00:00"}, "Resource_List": {"walltime": "01:00:00"}},
     S.TIMEOUT),
    (265, {"resources_used": {"walltime": "00:59:59"}, "Resource_List": {"walltime": "01:00:00"}},
     S.CANCELLED),
    (265, {"resources_used": {"mem": "950mb"}, "Resource_List": {"mem": "1gb"}}, S.OUT_OF_MEMORY),
    (265, {"resources_used": {"mem": "100mb"}, "Resource_List": {"mem": "1gb"}}, S.CANCELLED),
    (-29, {}, S.TIMEOUT),
    (-28, {}, S.TIMEOUT),
    (-27, {}, S.OUT_OF_MEMORY),
    (-26, {}, S.OUT_OF_MEMORY),
    (-11, {}, S.NODE_FAIL),
    (-1, {}, S.FAILED),
    (-99, {}, S.FAILED),
    (None, {}, S.CANCELLED),
    ("0", {}, S.COMPLETED),  # text qstat: a string
])
def test_exit_status_semantics(exit_status, extra, state):
    status = finished(exit_status, **extra)
    assert status.state is state
    assert status.exit_code == (None if exit_status is None else int(exit_status))


@pytest.mark.parametrize(("letter", "state"), [
    ("Q", S.PENDING), ("H", S.PENDING), ("W", S.PENDING), ("T", S.PENDING),
    ("R", S.RUNNING), ("E", S.RUNNING), ("B", S.RUNNING), ("S", S.RUNNING), ("U", S.RUNNING),
    ("M", S.UNKNOWN),
])
def test_every_reference_state_letter(letter, state):
    assert pbs.parse_status(json.dumps({"Jobs": {"1.s": {"job_state": letter}}}))["1.s"].state is state


# --- properties ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12)


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_raises_scheduler_output_error(text):
    for parse in (pbs.parse_status, pbs.parse_fallback_status):
        try:
            result = parse(text)
        except SchedulerOutputError:
            continue
        assert all(isinstance(v, JobStatus) for v in result.values())


@given(st.dictionaries(st.sampled_from(["job_state", "Exit_status", "comment", "resources_used",
                                        "Resource_List", "x"]), json_values, max_size=5))
@settings(max_examples=300, deadline=None)
def test_any_job_object_parses_or_raises_scheduler_output_error(attrs):
    text = json.dumps({"Jobs": {"1.s": attrs}})
    try:
        pbs.parse_status(text)
    except SchedulerOutputError:
        pass


ACTIVE_LETTERS = {"Q": S.PENDING, "H": S.PENDING, "W": S.PENDING, "T": S.PENDING,
                  "R": S.RUNNING, "E": S.RUNNING, "B": S.RUNNING, "S": S.RUNNING, "U": S.RUNNING}

job_cases = st.one_of(
    st.tuples(st.sampled_from(sorted(ACTIVE_LETTERS)), st.none()),
    st.tuples(st.sampled_from(["F", "X"]), st.just(0)),
    st.tuples(st.sampled_from(["F", "X"]), st.integers(1, 255)),
    st.tuples(st.sampled_from(["F", "X"]), st.sampled_from([-29, -28])),
    st.tuples(st.sampled_from(["F", "X"]), st.sampled_from([-27, -26])),
)


def expected_state(letter, exit_status):
    if letter in ACTIVE_LETTERS:
        return ACTIVE_LETTERS[letter]
    if exit_status == 0:
        return S.COMPLETED
    if exit_status > 0:
        return S.FAILED
    return S.TIMEOUT if exit_status in (-29, -28) else S.OUT_OF_MEMORY


def wrap_like_prt_attr(name: str, value: str, width: int) -> str:
    """Render one attribute as qstat -f does: comma pieces, long pieces cut mid-token, \\n\\t."""
    line = f"    {name} = "
    out = []
    col = len(line)
    pieces = value.split(",")
    for k, piece in enumerate(pieces):
        piece = piece + ("," if k < len(pieces) - 1 else "")
        while col + len(piece) >= width:
            room = max(width - col, 1)
            out.append(piece[:room])
            out.append("\n\t")
            piece = piece[room:]
            col = 1
        out.append(piece)
        col += len(piece)
    return line + "".join(out)


@given(st.dictionaries(st.integers(1, 10**6), job_cases, min_size=1, max_size=8),
       st.text(alphabet="abc ,:()=", min_size=0, max_size=200), st.integers(20, 90))
@settings(max_examples=200, deadline=None)
def test_generated_outputs_map_to_the_right_status_in_json_and_text(jobs, comment, width):
    records = {}
    text_blocks = []
    for number, (letter, exit_status) in jobs.items():
        job_id = f"{number}.pbs-server.example.org"
        attrs = {"job_state": letter, "comment": comment.strip() or "c"}
        if exit_status is not None:
            attrs["Exit_status"] = exit_status
        records[job_id] = attrs
        block = [f"Job Id: {job_id}"]
        block += [wrap_like_prt_attr(k, str(v), width) for k, v in attrs.items()]
        text_blocks.append("\n".join(block) + "\n")
    from_json = pbs.parse_status(json.dumps({"pbs_server": "s", "Jobs": records}, indent=4))
    from_text = pbs.parse_fallback_status("\n".join(text_blocks) + "\n")
    assert from_json == from_text
    for number, (letter, exit_status) in jobs.items():
        status = from_json[f"{number}.pbs-server.example.org"]
        assert status.state is expected_state(letter, exit_status)
        assert status.raw == letter and status.exit_code == exit_status
