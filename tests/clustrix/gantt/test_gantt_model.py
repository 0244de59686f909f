"""The timeline model's spans and totals, from known timestamps."""

from __future__ import annotations

import pytest

from clustrix.gantt import TaskBar, Timeline, format_duration

A = TaskBar("9_0", "COMPLETED", group="#1", prepared_s=100.0, submitted_s=101.0, queued_s=100.5,
            started_s=110.0, ended_s=130.0, fetched_s=131.0)
B = TaskBar("9_1", "FAILED", group="#1", prepared_s=100.0, submitted_s=101.0, queued_s=100.5,
            started_s=110.0, ended_s=120.0, fetched_s=122.0)
C = TaskBar("9_2", "CANCELLED", group="#1", prepared_s=100.0, submitted_s=101.0, queued_s=100.5,
            fetched_s=105.0)
D = TaskBar("12", "COMPLETED", group="#2", prepared_s=102.0, submitted_s=102.5, queued_s=103.0,
            started_s=104.0, ended_s=108.0, fetched_s=108.5)


def test_spans_of_one_task():
    assert (A.submit_overhead_s, A.queue_wait_s, A.run_s, A.fetch_lag_s) == (1.0, 9.5, 20.0, 1.0)
    assert (C.queue_wait_s, C.run_s, C.fetch_lag_s) == (None, None, None)
    assert not A.failed and B.failed and C.failed


def test_whole_second_accounting_never_makes_a_negative_span():
    bar = TaskBar("1", "COMPLETED", prepared_s=5.2, submitted_s=5.5, queued_s=5.0, started_s=5.0,
                  ended_s=11.0, fetched_s=10.6)
    assert (bar.fetch_lag_s, bar.submit_overhead_s, bar.queue_wait_s) == (0.0, pytest.approx(0.3), 0.0)


def test_totals():
    totals = Timeline("t", (A, B, C, D)).totals()
    assert totals.tasks == 4
    assert totals.by_state == {"COMPLETED": 2, "FAILED": 1, "CANCELLED": 1}
    assert totals.failures == {"FAILED": 1, "CANCELLED": 1}
    assert totals.makespan_s == 31.0  # 100 (first client instant) -> 131 (last result fetched)
    assert totals.queue_wait is not None and (totals.queue_wait.count, totals.queue_wait.total_s) == (3, 20.0)
    assert totals.run is not None and (totals.run.total_s, totals.run.max_s, totals.run.median_s) == (34.0, 20.0, 10.0)
    # Submit overhead counts once per submission: #1 (1.0 s) and #2 (0.5 s).
    assert totals.submit_overhead is not None and totals.submit_overhead.total_s == 1.5
    assert totals.fetch_lag is not None and totals.fetch_lag.max_s == 2.0
    assert [b.label for b in totals.slowest] == ["9_0", "9_1", "12"]


def test_an_empty_or_timeless_timeline_has_no_makespan():
    totals = Timeline("t", (TaskBar("1", "UNKNOWN"),)).totals()
    assert (totals.makespan_s, totals.run, totals.slowest) == (None, None, ())
    assert Timeline("t", ()).origin_s is None


@pytest.mark.parametrize("seconds,text", [(None, "-"), (0.42, "0.4 s"), (12.4, "12 s"), (185, "3 min 05 s"),
                                          (7620, "2 h 07 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
