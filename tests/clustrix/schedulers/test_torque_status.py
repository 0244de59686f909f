"""Torque status: text ``qstat -f -t`` with TAB-wrapped lines, ``job_state = C`` with the
lower-case ``exit_status``, Torque's own JOB_EXEC codes, and ids/argv."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers import torque
from clustrix.schedulers.pbs.qstat_text import parse_qstat_full
from clustrix.spec import ArraySpec
from clustrix.states import JobState, JobStatus

DATA = Path(__file__).resolve().parents[2] / "data" / "torque"
S = JobState


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_module_contract():
    assert torque.NAME == "torque"
    assert torque.submit_argv("/d/job.sh") == ["qsub", "/d/job.sh"]
    assert torque.status_argv(["80[].srv", "81.srv"]) == ["qstat", "-f", "-t", "80[].srv",
                                                           "81.srv"]
    assert torque.cancel_argv(["80[2].srv"]) == ["qdel", "80[2].srv"]
    assert torque.parse_submit("123.torque-server.example.org\n") == "123.torque-server.example.org"
    assert torque.task_ids("80[].srv", ArraySpec(2)) == ["80[0].srv", "80[1].srv"]


def test_completed_job_and_wrapped_values():
    attrs = parse_qstat_full(read("qstat_f_completed.txt"))["77.torque-server.example.org"]
    assert attrs["Output_Path"] == "login.example.org:/home/alice/.clustrix/jobs/abc/stdout.log"
    assert attrs["Variable_List"].endswith("PBS_O_HOST=login.example.org,"
                                           "PBS_O_SERVER=torque-server.example.org")
    assert torque.parse_status(read("qstat_f_completed.txt")) == {
        "77.torque-server.example.org": JobStatus(S.COMPLETED, "C", "", 0)}


def test_array_subjobs():
    result = torque.parse_status(read("qstat_f_array.txt"))
    tasks = torque.task_ids("80[].torque-server.example.org", ArraySpec(8))
    assert [(result[t].state, result[t].exit_code) for t in tasks] == [
        (S.COMPLETED, 0),
        (S.TIMEOUT, 265),  # SIGKILL at the walltime limit (Torque reports walltime kills as 265)
        (S.TIMEOUT, -11),  # JOB_EXEC_OVERLIMIT_WT
        (S.RUNNING, None),
        (S.PENDING, None),
        (S.CANCELLED, 265),  # SIGKILL well before the limit: qdel
        (S.OUT_OF_MEMORY, -10),  # JOB_EXEC_OVERLIMIT_MEM
        (S.PENDING, None),  # held
    ]


@pytest.mark.parametrize(("letter", "state"), [
    ("Q", S.PENDING), ("H", S.PENDING), ("W", S.PENDING), ("T", S.PENDING),
    ("R", S.RUNNING), ("E", S.RUNNING), ("S", S.RUNNING),
])
def test_every_torque_state_letter(letter, state):
    text = f"Job Id: 1.srv\n    job_state = {letter}\n\n"
    assert torque.parse_status(text)["1.srv"].state is state


def test_pbs_pro_only_letters_are_unknown_to_torque(caplog):
    with caplog.at_level(logging.WARNING, logger="clustrix.schedulers.pbs.commands"):
        status = torque.parse_status("Job Id: 1.srv\n    job_state = F\n    exit_status = 0\n")
    assert status["1.srv"].state is S.UNKNOWN
    assert "unknown PBS job_state 'F'" in caplog.text


@pytest.mark.parametrize(("exit_status", "state"), [
    ("0", S.COMPLETED), ("2", S.FAILED), ("-8", S.FAILED), ("-9", S.FAILED),
    ("-12", S.TIMEOUT), ("-13", S.FAILED), ("271", S.CANCELLED), ("262", S.FAILED),
])
def test_torque_exit_statuses(exit_status, state):
    text = f"Job Id: 1.srv\n    job_state = C\n    exit_status = {exit_status}\n"
    assert torque.parse_status(text)["1.srv"].state is state


def test_completed_without_exit_status_was_deleted_before_running():
    assert torque.parse_status("Job Id: 1.srv\n    job_state = C\n")["1.srv"].state is S.CANCELLED


def test_empty_output_is_no_jobs():
    assert torque.parse_status("") == {}


def test_unknown_job_error_message():
    assert torque.is_unknown_job_error("qstat: Unknown Job Id Error 123.torque-server\n")
    assert not torque.is_unknown_job_error("qstat: cannot connect to server\n")


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_raises_scheduler_output_error(text):
    try:
        result = torque.parse_status(text)
    except SchedulerOutputError:
        return
    assert all(isinstance(v, JobStatus) for v in result.values())


@given(st.lists(st.tuples(st.sampled_from("CQRHEWTS"), st.integers(-14, 300)), min_size=1,
                max_size=6),
       st.text(alphabet="ab,=:", min_size=1, max_size=150))
@settings(max_examples=200, deadline=None)
def test_generated_records_round_trip_through_wrapping(jobs, long_value):
    blocks = []
    for k, (letter, code) in enumerate(jobs):
        value = long_value
        wrapped = "\n\t".join(value[i:i + 60] for i in range(0, len(value), 60))
        blocks.append(f"Job Id: {k}.srv\n    Variable_List = {wrapped}\n    job_state = {letter}\n"
                      f"    exit_status = {code}\n")
    text = "\n".join(blocks) + "\n"
    parsed = parse_qstat_full(text)
    assert all(parsed[f"{k}.srv"]["Variable_List"] == long_value for k in range(len(jobs)))
    result = torque.parse_status(text)
    for k, (letter, code) in enumerate(jobs):
        status = result[f"{k}.srv"]
        assert status.raw == letter and status.exit_code == code
        assert status.state is expected_torque_state(letter, code)


def expected_torque_state(letter: str, code: int) -> JobState:
    """The reference's reading (Torque admin guide "Job exit status"), with no resource data."""
    if letter in "QHWT":
        return S.PENDING
    if letter in "RES":
        return S.RUNNING
    if code == 0:
        return S.COMPLETED
    if code == -10:
        return S.OUT_OF_MEMORY
    if code in (-11, -12):
        return S.TIMEOUT
    if code in (256 + 9, 256 + 15):
        return S.CANCELLED
    return S.FAILED


# --- real-world shapes (aiida-core #7395, openpbs #738): functions exported with qsub -V ---------


def test_raw_newlines_and_blank_lines_inside_a_value_are_kept_and_harm_no_job():
    from clustrix.schedulers.pbs.qstat_text import parse_qstat_full

    text = (Path(__file__).parents[2] / "data" / "torque" / "qstat_f_function_env.txt").read_text()
    records = parse_qstat_full(text)
    env = records["41.torque-srv"]["Variable_List"]
    assert env.startswith("PBS_O_QUEUE=batch,PBS_O_HOME=/home/alice,BASH_FUNC_module%%=() {  eval")
    assert '"$@"\n\n},PBS_O_WORKDIR=/home/alice' in env  # the blank line inside the value is kept
    assert records["41.torque-srv"]["queue"] == "batch"  # the record goes on after the blank line
    got = torque.parse_status(text)
    assert (got["41.torque-srv"].state, got["41.torque-srv"].problem) == (JobState.RUNNING, "")
    assert got["42.torque-srv"].state is JobState.COMPLETED and got["42.torque-srv"].exit_code == 0
    bad = got["43.torque-srv"]  # exit_status = lots: its own problem, nobody else's
    assert bad.state is JobState.UNKNOWN and "43.torque-srv" in bad.problem and "lots" in bad.problem


@given(st.lists(st.sampled_from(["}", "", "  echo hi", "\tfoo", "x=1;y=2", "fi };"]), max_size=6))
def test_property_any_function_body_stays_inside_its_value(body):
    value_lines = ["PBS_O_HOME=/h,BASH_FUNC_f%%=() {", *body, "},PBS_O_WORKDIR=/w"]
    text = ("Job Id: 1.s\n    job_state = R\n    Variable_List = " + "\n".join(value_lines)
            + "\n    queue = batch\n\nJob Id: 2.s\n    job_state = Q\n")
    got = torque.parse_status(text)
    assert {k: (v.state, v.problem) for k, v in got.items()} == {
        "1.s": (JobState.RUNNING, ""), "2.s": (JobState.PENDING, "")}


@pytest.mark.parametrize(("stderr", "gone"), [
    ("qdel: Unknown Job Id Error 9.torque-server\n", True),
    # qdel of a job kept in state C after it completed: a cancel that raced the job's end
    ("qdel: Request invalid for state of job 9.torque-server\n", True),
    ("qdel: cannot connect to server torque-server (errno=15010)\n", False),
    ("", False),
])
def test_a_job_that_already_completed_counts_as_gone_for_qdel(stderr, gone):
    assert torque.is_unknown_job_error(stderr) is gone
