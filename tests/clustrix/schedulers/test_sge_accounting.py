"""SGE ``qacct -j`` parsing: record splitting, ``failed``/``exit_status`` semantics, limit
detection from the ``category`` line, and properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers import sge
from clustrix.spec import ArraySpec
from clustrix.states import JobState, JobStatus

DATA = Path(__file__).resolve().parents[2] / "data" / "sge"
S = JobState
SEP = "=" * 62


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_reference_record_is_completed():
    assert sge.parse_accounting(read("qacct_single.txt")) == {
        "1": JobStatus(S.COMPLETED, "failed=0 exit_status=0", "", 0)}


def test_array_task_outcomes():
    result = sge.parse_accounting(read("qacct_array.txt"))
    tasks = sge.task_ids("50", ArraySpec(9))
    assert [(result[t].state, result[t].exit_code) for t in tasks] == [
        (S.COMPLETED, 0),
        (S.FAILED, 1),
        (S.TIMEOUT, 137),  # SIGKILL with ru_wallclock 60 >= h_rt=60
        (S.OUT_OF_MEMORY, 137),  # maxvmem 1.95G near h_vmem 1G x 2 slots
        (S.CANCELLED, 137),  # SIGKILL well inside both limits: qdel
        (S.TIMEOUT, 137),  # failed 37 with wallclock past h_rt
        (S.FAILED, 137),  # failed 37, limits not recorded: which limit is unknown
        (S.FAILED, 0),  # failed 26: could not open the output file
        (S.FAILED, 139),  # SIGSEGV
    ]
    assert "failed 26" in result["50.8"].reason
    assert "which one is not recorded" in result["50.7"].reason


def test_newest_record_of_a_reused_job_number_wins():
    assert sge.parse_accounting(read("qacct_rerun.txt"))["60"].state is S.COMPLETED


def test_deleted_by_field_means_cancelled():
    text = f"{SEP}\njobnumber    7\ntaskid       undefined\nfailed       0\nexit_status  0\n" \
           "deleted_by   alice\n"
    assert sge.parse_accounting(text)["7"].state is S.CANCELLED


@pytest.mark.parametrize(("failed", "exit_status", "state"), [
    ("0", "0", S.COMPLETED),
    ("0", "2", S.FAILED),
    ("1   : assumedly before job", "0", S.FAILED),
    ("27  : searching requested shell", "0", S.FAILED),
    ("100 : assumedly after job", "0", S.FAILED),
    ("100 : assumedly after job", "143", S.FAILED),  # SIGTERM, not a qdel SIGKILL
    ("100 : assumedly after job", "137", S.CANCELLED),
    ("0", "137", S.CANCELLED),
])
def test_failed_and_exit_status_semantics(failed, exit_status, state):
    text = f"{SEP}\njobnumber    8\ntaskid       undefined\nfailed       {failed}\n" \
           f"exit_status  {exit_status}\n"
    assert sge.parse_accounting(text)["8"].state is state


@pytest.mark.parametrize(("category", "wallclock", "maxvmem", "state"), [
    ("-l h_rt=01:00:00", "3600.5s", "1M", S.TIMEOUT),  # UGE prints seconds with a unit
    ("-l h_rt=3600,h_vmem=4G", "10", "3.9G", S.OUT_OF_MEMORY),
    ("-l h_vmem=4g", "10", "3.7G", S.OUT_OF_MEMORY),  # lower-case g: 4e9 bytes
    ("-l h_vmem=4G", "10", "1G", S.CANCELLED),
    ("-q all.q -l h_rt=100", "99", "0.000", S.CANCELLED),
])
def test_limit_detection_from_category(category, wallclock, maxvmem, state):
    text = (f"{SEP}\njobnumber    9\ntaskid       undefined\nslots        1\nfailed       "
            f"100 : assumedly after job\nexit_status  137\nru_wallclock {wallclock}\n"
            f"category     {category}\nmaxvmem      {maxvmem}\n")
    assert sge.parse_accounting(text)["9"].state is state


def test_empty_output_is_no_records():
    assert sge.parse_accounting("") == {}


@pytest.mark.parametrize("text", [
    "jobnumber 1\n",  # no separator first
    f"{SEP}\nqname all.q\n",  # no jobnumber
    f"{SEP}\njobnumber abc\n",
])
def test_malformed_accounting_raises(text):
    with pytest.raises(SchedulerOutputError):
        sge.parse_accounting(text)


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_raises_scheduler_output_error(text):
    try:
        result = sge.parse_accounting(text)
    except SchedulerOutputError:
        return
    assert all(isinstance(v, JobStatus) and v.is_terminal for v in result.values())


@given(st.lists(st.tuples(st.integers(1, 10**6), st.none() | st.integers(1, 1000),
                          st.integers(0, 127)), min_size=1, max_size=8, unique_by=lambda t: t[:2]))
@settings(max_examples=200, deadline=None)
def test_generated_records_without_failure_map_by_exit_code(records):
    text = "".join(
        f"{SEP}\nqname        all.q               \njobnumber    {num:<20}\n"
        f"taskid       {'undefined' if task is None else task:<20}\nfailed       0    \n"
        f"exit_status  {code:<20}\nru_wallclock 1            \n"
        for num, task, code in records)
    result = sge.parse_accounting(text)
    for num, task, code in records:
        key = str(num) if task is None else f"{num}.{task}"
        assert result[key].state is (S.COMPLETED if code == 0 else S.FAILED)
        assert result[key].exit_code == code
