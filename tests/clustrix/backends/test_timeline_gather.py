"""Gathering a timeline from ledger entries and scheduler output, through a transport that
answers with captured output (the pure seam: what the commands printed is all that matters)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from clustrix import schedulers
from clustrix.backends.ledger import Ledger
from clustrix.backends.timeline import (
    NOT_IN_ACCOUNTING,
    ClusterClock,
    SchedulerTimes,
    build_timeline,
    parse_clock,
    query_times,
)
from clustrix.errors import ClustrixError
from clustrix.transports.base import Completed

DATA = Path(__file__).resolve().parents[2] / "data"
SACCT = (DATA / "slurm" / "sacct_times_sim_map.txt").read_text()
# 2026-12-03T17:55:00 as this test's cluster prints it (UTC+1) is 16:55:00 UTC.
T0 = datetime(2026, 12, 3, 16, 55, tzinfo=timezone.utc).timestamp()


class Answers:
    """A transport whose commands print what a table says (by program name)."""

    host = "cluster"

    def __init__(self, table: dict[str, tuple[int, str, str]]):
        self.table = table
        self.ran: list[list[str]] = []

    def run(self, argv, *, stdin=None, timeout_s=None, retry_safe=False):
        self.ran.append(list(argv))
        rc, out, err = self.table[argv[0]]
        if argv[0] == "date" and "{now}" in out:
            out = out.replace("{now}", str(int(time.time())))
        return Completed(tuple(argv), rc, out, err, self.host)


def entries(tmp_path, *, prepared_at=T0 - 0.4):
    ledger = Ledger(tmp_path / "l.sqlite3")
    row = ledger.record(job_id="1", backend="slurm", host="h", profile={}, job_dir="/d", key_file="/k",
                        function="m.work", task_ids=("1_0", "1_1", "1_2", "1_3"), n_items=4, prepared_at=prepared_at)
    ledger.set_task_states(row, {0: "COMPLETED", 1: "COMPLETED", 2: "FAILED", 3: "FAILED"})
    single = ledger.record(job_id="5", backend="slurm", host="h", profile={}, job_dir="/e", key_file="/k",
                           function="m.work", prepared_at=prepared_at)
    ledger.set_state(single, "COMPLETED")
    # Place the ledger's own times where this test wants them (the ledger stamps "now").
    out = []
    for e in (ledger.by_row(row), ledger.by_row(single)):
        out.append(replace(e, submitted_at=T0 + 0.2, task_finished_at=tuple(T0 + 3 for _ in e.task_ids),
                           finished_at=T0 + 3))
    return out


@pytest.mark.parametrize("stdout,offset,skewed", [
    ("1764780000 +0100\n", 3600, False), ("1764780000 -0530", -19800, False), ("1764780100 +0000", 0, True),
])
def test_parse_clock(stdout, offset, skewed):
    clock = parse_clock(stdout, 1764780000.0, 1764780000.2)
    assert clock.utc_offset_s == offset
    assert (clock.skew_s != 0) == skewed


def test_parse_clock_refuses_other_output():
    with pytest.raises(ClustrixError, match="expected epoch seconds and an offset"):
        parse_clock("Thu Dec  3 18:00:00 UTC 2026", 0.0, 0.1)


def test_cluster_clock_places_naive_and_aware_times():
    clock = ClusterClock(utc_offset_s=3600, skew_s=10)
    assert clock.to_client(datetime(2026, 12, 3, 17, 55)) == T0 - 10
    assert clock.to_client(datetime(2026, 12, 3, 16, 55, tzinfo=timezone.utc)) == T0 - 10
    assert clock.to_client(None) is None


def test_a_map_on_slurm(tmp_path):
    transport = Answers({"date": (0, "{now} +0100\n", ""), "sacct": (0, SACCT, "")})
    es = entries(tmp_path)
    found = query_times(es, transport, schedulers.get("slurm"))
    assert [a[0] for a in transport.ran] == ["date", "sacct"] and transport.ran[1][-1] == "--jobs=1,5"
    timeline = build_timeline(es, {e.row: found for e in es}, title="map")
    bars = {b.label: b for b in timeline.tasks}
    assert list(bars) == ["1_0", "1_1", "1_2", "1_3", "5"]
    assert (bars["1_0"].queued_s, bars["1_0"].started_s, bars["1_0"].ended_s) == (T0, T0, T0 + 1)
    assert (bars["1_3"].started_s, bars["1_3"].ended_s) == (T0 + 1, T0 + 2)
    # The client's verdict wins: item 2's function raised, its job exited cleanly.
    assert bars["1_2"].state == "FAILED" and bars["1_2"].detail == "scheduler: COMPLETED"
    assert bars["1_0"].fetched_s == T0 + 3 and bars["1_0"].prepared_s == T0 - 0.4
    assert not any("disagrees" in n for n in timeline.notes)
    assert any("whole seconds" in n for n in timeline.notes)
    assert timeline.totals().by_state == {"COMPLETED": 3, "FAILED": 2}


def test_a_cluster_clock_that_disagrees_is_said_and_anchored(tmp_path):
    # The cluster's printed times are an hour off (its zone was misreported as UTC).
    transport = Answers({"date": (0, "{now} +0000\n", ""), "sacct": (0, SACCT, "")})
    es = entries(tmp_path)
    found = query_times(es, transport, schedulers.get("slurm"))
    timeline = build_timeline(es, {e.row: found for e in es}, title="map")
    notes = [n for n in timeline.notes if "disagrees" in n]
    assert len(notes) == 2 and "+3600 s" in notes[0]
    first = timeline.tasks[0]
    assert first.queued_s == pytest.approx(T0 + 0.2)  # queued when the client submitted it
    assert first.run_s == 1.0  # durations are the scheduler's own


def test_no_accounting_is_said_not_hidden(tmp_path):
    transport = Answers({"date": (0, "{now} +0100\n", ""),
                         "sacct": (1, "", "sacct: error: Slurm accounting storage is disabled\n")})
    es = entries(tmp_path)
    found = query_times(es, transport, schedulers.get("slurm"))
    assert found.by_task == {}
    assert any("no accounting for these jobs (sacct: error: Slurm accounting storage is disabled)" in n
               for n in found.notes)
    bars = build_timeline(es, {e.row: found for e in es}, title="t").tasks
    assert all(b.queued_s is None and b.fetched_s == T0 + 3 for b in bars)


def test_a_backend_without_a_scheduler_draws_the_clients_view(tmp_path):
    es = entries(tmp_path)
    found = query_times(es, Answers({}), None)
    assert "has no scheduler accounting" in found.notes[0]
    timeline = build_timeline(es, {e.row: found for e in es}, title="t")
    assert timeline.origin_label and all(b.submit_overhead_s is not None for b in timeline.tasks)


def test_ledger_rows_from_before_schema_3_are_noted(tmp_path):
    es = [replace(e, prepared_at=None) for e in entries(tmp_path)]
    timeline = build_timeline(es, {e.row: SchedulerTimes({}, ClusterClock()) for e in es}, title="t")
    assert any("schema 3" in n for n in timeline.notes)


def test_tasks_the_scheduler_did_not_report_yet_are_noted(tmp_path):
    only_two = "\n".join(SACCT.splitlines()[:2]) + "\n"  # 1_0 and 1_1; 1_2, 1_3 and 5 missing
    transport = Answers({"date": (0, "{now} +0100\n", ""), "sacct": (0, only_two, "")})
    es = entries(tmp_path)
    found = query_times(es, transport, schedulers.get("slurm"))
    timeline = build_timeline(es, {e.row: found for e in es}, title="map")
    lag = [n for n in timeline.notes if NOT_IN_ACCOUNTING in n]
    assert lag == [f"job 1: 2 of 4 tasks {NOT_IN_ACCOUNTING} (it can lag its jobs by a few seconds, or have "
                   "forgotten them): they show the ledger's times only",
                   f"job 5: 1 of 1 tasks {NOT_IN_ACCOUNTING} (it can lag its jobs by a few seconds, or have "
                   "forgotten them): they show the ledger's times only"]
