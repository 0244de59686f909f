"""Per-task times for timelines (``TASK_TIMES``), table tests over captured outputs per scheduler.

The ``*_times_sim_*`` files are what the simulator's tools printed for a 4-item map (item 2's
function raised, item 3's process exited 3) plus one single job; the hand-written tables cover
the shapes real tools print besides (``Unknown`` times, pending ranges, steps, epoch times).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from clustrix import schedulers
from clustrix.errors import SchedulerOutputError
from clustrix.schedulers.clock_text import ctime_local, iso_local
from clustrix.schedulers.contract import TaskTimes, TaskTimesQuery
from clustrix.states import JobState

DATA = Path(__file__).resolve().parents[2] / "data"
C, F = JobState.COMPLETED, JobState.FAILED


def at(h: int, m: int, s: int) -> datetime:
    return datetime(2026, 12, 3, h, m, s)


def summary(times: dict[str, TaskTimes]) -> dict[str, tuple]:
    return {k: (t.status.state, t.queued, t.started, t.ended) for k, t in times.items()}


@pytest.mark.parametrize("name", schedulers.SCHEDULERS)
def test_every_scheduler_offers_task_times(name):
    query = schedulers.get(name).TASK_TIMES
    assert isinstance(query, TaskTimesQuery) and query.retention


# --- the captured map, per scheduler -----------------------------------------------------------

CAPTURED = [
    ("slurm", "slurm/sacct_times_sim_map.txt", {
        "1_0": (C, at(17, 55, 0), at(17, 55, 0), at(17, 55, 1)),
        "1_1": (C, at(17, 55, 0), at(17, 55, 0), at(17, 55, 1)),
        "1_2": (C, at(17, 55, 0), at(17, 55, 1), at(17, 55, 1)),
        "1_3": (F, at(17, 55, 0), at(17, 55, 1), at(17, 55, 2)),
        "5": (C, at(17, 55, 0), at(17, 55, 1), at(17, 55, 2))}),
    ("pbs", "pbs/qstat_json_times_sim_map.json", {
        "1[0].pbs-server": (C, at(17, 55, 10), at(17, 55, 10), at(17, 55, 11)),
        "1[1].pbs-server": (C, at(17, 55, 10), at(17, 55, 10), at(17, 55, 11)),
        "1[2].pbs-server": (C, at(17, 55, 10), at(17, 55, 11), at(17, 55, 11)),
        "1[3].pbs-server": (F, at(17, 55, 10), at(17, 55, 11), at(17, 55, 11)),
        "5.pbs-server": (C, at(17, 55, 10), at(17, 55, 11), at(17, 55, 12))}),
    ("torque", "torque/qstat_f_times_sim_map.txt", {
        "1[0].torque-server": (C, at(17, 55, 15), at(17, 55, 15), at(17, 55, 15)),
        "1[1].torque-server": (C, at(17, 55, 15), at(17, 55, 15), at(17, 55, 15)),
        "1[2].torque-server": (C, at(17, 55, 15), at(17, 55, 15), at(17, 55, 16)),
        "1[3].torque-server": (F, at(17, 55, 15), at(17, 55, 15), at(17, 55, 16)),
        "5.torque-server": (C, at(17, 55, 15), at(17, 55, 16), at(17, 55, 16))}),
    ("sge", "sge/qacct_times_sim_array.txt", {
        "1.1": (C, at(17, 55, 19), at(17, 55, 19), at(17, 55, 19)),
        "1.2": (C, at(17, 55, 19), at(17, 55, 19), at(17, 55, 19)),
        "1.3": (C, at(17, 55, 19), at(17, 55, 19), at(17, 55, 19)),
        "1.4": (F, at(17, 55, 19), at(17, 55, 19), at(17, 55, 19))}),
    ("sge", "sge/qacct_times_sim_single.txt", {
        "5": (C, at(17, 55, 19), at(17, 55, 19), at(17, 55, 20))}),
]


@pytest.mark.parametrize("name,path,expected", CAPTURED, ids=[c[1] for c in CAPTURED])
def test_captured_map_times(name, path, expected):
    parsed = schedulers.get(name).TASK_TIMES.parse((DATA / path).read_text())
    got = summary(parsed)
    assert {k: got[k] for k in expected} == expected
    # Keys are the task ids the backend recorded for the map (SchedulerModule.task_ids).
    assert all(not t.status.problem for t in parsed.values())


@pytest.mark.parametrize("name,ids,argvs", [
    ("slurm", ["1", "5"], [["sacct", "--noheader", "--parsable2", "--allocations",
                            "--format=JobID,State,ExitCode,Submit,Start,End", "--jobs=1,5"]]),
    ("pbs", ["1[].srv", "5.srv"], [["qstat", "-x", "-f", "-F", "json", "-t", "1[].srv", "5.srv"]]),
    ("torque", ["1[].srv"], [["qstat", "-f", "-t", "1[].srv"]]),
    ("sge", ["1", "5", "1.3"], [["qacct", "-j", "1"], ["qacct", "-j", "5"]]),
])
def test_argvs_batch_where_the_tool_can(name, ids, argvs):
    assert schedulers.get(name).TASK_TIMES.argvs(ids) == argvs


@pytest.mark.parametrize("name,bad", [("slurm", "--user=bob"), ("pbs", "-u"), ("sge", "x")])
def test_argvs_refuse_ids_that_would_be_options(name, bad):
    with pytest.raises((ValueError, SchedulerOutputError)):
        schedulers.get(name).TASK_TIMES.argvs([bad])


# --- shapes real tools print ---------------------------------------------------------------------

SACCT = """\
10|RUNNING|0:0|2025-01-06T10:00:00|2025-01-06T10:00:05|Unknown
10.batch|RUNNING|0:0|2025-01-06T10:00:00|2025-01-06T10:00:05|Unknown
11_[2-3%1]|PENDING|0:0|2025-01-06T10:00:01|Unknown|Unknown
11_0|TIMEOUT|0:15|2025-01-06T10:00:01|2025-01-06T10:00:02|2025-01-06T10:01:02
11_1|CANCELLED by 1000|0:15|2025-01-06T10:00:01|None|2025-01-06T10:00:09
12|COMPLETED|0:0|yesterday|2025-01-06T10:00:02|2025-01-06T10:00:03
"""


def test_sacct_shapes():
    got = schedulers.get("slurm").TASK_TIMES.parse(SACCT)
    d = lambda s: datetime(2025, 1, 6, 10, s // 60, s % 60)  # noqa: E731
    assert summary({k: v for k, v in got.items() if k != "12"}) == {
        "10": (JobState.RUNNING, d(0), d(5), None),
        "11_2": (JobState.PENDING, d(1), None, None),
        "11_3": (JobState.PENDING, d(1), None, None),
        "11_0": (JobState.TIMEOUT, d(1), d(2), d(62)),
        "11_1": (JobState.CANCELLED, d(1), None, d(9)),
    }
    # One unreadable time spoils its own row only, said plainly.
    assert got["12"].status.problem and "yesterday" in got["12"].status.problem
    assert (got["12"].queued, got["12"].started) == (None, None)


def test_sacct_without_the_pinned_columns_is_refused():
    with pytest.raises(SchedulerOutputError, match="6 '|'-separated fields"):
        schedulers.get("slurm").TASK_TIMES.parse("10|COMPLETED|0:0\n")


PBS_JSON = """{"timestamp":1, "pbs_version":"23.06", "pbs_server":"srv", "Jobs":{
  "7.srv":{"job_state":"F","Exit_status":271,"qtime":"Mon Jan  6 10:00:00 2025",
           "stime":"Mon Jan  6 10:00:02 2025","obittime":"Mon Jan  6 10:05:00 2025",
           "mtime":"Mon Jan  6 10:09:00 2025","resources_used":{"walltime":"00:05:00"},
           "Resource_List":{"walltime":"00:05:00"}},
  "8.srv":{"job_state":"Q","qtime":"Mon Jan  6 10:00:01 2025","mtime":"Mon Jan  6 10:00:01 2025"},
  "9.srv":{"qtime":"Mon Jan  6 10:00:01 2025"}}}"""


def test_pbs_prefers_obittime_and_leaves_pending_jobs_open():
    got = schedulers.get("pbs").TASK_TIMES.parse(PBS_JSON)
    jan6 = lambda m, s: datetime(2025, 1, 6, 10, m, s)  # noqa: E731
    assert summary({k: got[k] for k in ("7.srv", "8.srv")}) == {
        "7.srv": (JobState.TIMEOUT, jan6(0, 0), jan6(0, 2), jan6(5, 0)),
        "8.srv": (JobState.PENDING, jan6(0, 1), None, None),  # mtime is no end for a queued job
    }
    assert got["9.srv"].status.problem and "job_state" in got["9.srv"].status.problem


def test_pbs_empty_output_is_no_jobs():
    assert schedulers.get("pbs").TASK_TIMES.parse("") == {}


def test_torque_reads_epoch_times():
    text = ("Job Id: 4.srv\n    job_state = C\n    qtime = 1736157600\n    start_time = 1736157601\n"
            "    comp_time = 1736157661\n    exit_status = 0\n\n")
    got = schedulers.get("torque").TASK_TIMES.parse(text)["4.srv"]
    utc = lambda s: datetime.fromtimestamp(1736157600 + s, tz=timezone.utc)  # noqa: E731
    assert (got.status.state, got.queued, got.started, got.ended) == (C, utc(0), utc(1), utc(61))


@pytest.mark.parametrize("text,expected", [
    ("2025-01-06T10:00:00", datetime(2025, 1, 6, 10)),
    ("Unknown", None), ("None", None), ("", None), ("N/A", None),
])
def test_iso_local(text, expected):
    assert iso_local(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Mon Jan  6 10:00:00 2025", datetime(2025, 1, 6, 10)),
    ("Thu Dec 31 23:59:59 2026", datetime(2026, 12, 31, 23, 59, 59)),
    ("01/06/2025 10:00:00.123", datetime(2025, 1, 6, 10)),
    ("1736157600", datetime(2025, 1, 6, 10, tzinfo=timezone.utc)),
    ("-/-", None), ("0", None),
])
def test_ctime_local(text, expected):
    assert ctime_local(text) == expected


@pytest.mark.parametrize("text", ["Mon Foo  6 10:00:00 2025", "Mon Feb 30 10:00:00 2025", "soon"])
def test_unreadable_times_say_what_was_expected(text):
    with pytest.raises(SchedulerOutputError, match="expected ctime"):
        ctime_local(text)
