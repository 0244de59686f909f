"""Status (and cancel) commands carry a bounded number of ids, yet one round answers for all.

A fake transport at the pure seam plays sacct/squeue/qstat: it answers from the ids in the argv
it is given, and records every argv, so the sizes of the commands are asserted exactly.
"""

from __future__ import annotations

import threading

import pytest

from clustrix import schedulers
from clustrix.backends.remote.launchers import SchedulerLauncher
from clustrix.config.profile import Profile
from clustrix.polling import scheduler_source
from clustrix.polling.scheduler_source import (
    MAX_ID_CHARS,
    MAX_IDS_PER_COMMAND,
    SchedulerStatusSource,
    split_ids,
)
from clustrix.states import JobState
from clustrix.transports.base import Completed


class FakeSlurm:
    """sacct/squeue/scancel from the ids in the argv; ``no_accounting`` makes sacct refuse."""

    def __init__(self, *, no_accounting: bool = False) -> None:
        self.argvs: list[list[str]] = []
        self.no_accounting = no_accounting
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def run(self, argv, *, stdin=None, timeout_s=None, retry_safe=False):
        with self._lock:
            self.argvs.append(list(argv))
            self.threads.add(threading.current_thread().name)
        ids = [a.split("=", 1)[1].split(",") for a in argv if a.startswith("--jobs=")]
        if argv[0] == "sacct":
            if self.no_accounting:
                return Completed(argv, 1, "", "sacct: error: Slurm accounting storage is disabled\n")
            return Completed(argv, 0, "".join(f"{i}|RUNNING|0:0|None\n" for i in ids[0]), "")
        if argv[0] == "squeue":
            return Completed(argv, 0, "".join(f"{i}|PENDING|Priority\n" for i in ids[0]), "")
        return Completed(argv, 0, "", "")


def ids_of(argv: list[str]) -> list[str]:
    return next(a.split("=", 1)[1].split(",") for a in argv if a.startswith("--jobs="))


def test_split_ids_bounds_count_and_characters_and_keeps_order():
    ids = [str(10_000 + i) for i in range(2_000)]
    groups = split_ids(ids)
    assert [i for g in groups for i in g] == ids
    assert all(len(g) <= MAX_IDS_PER_COMMAND and len(",".join(g)) <= MAX_ID_CHARS for g in groups)
    assert len(groups) == 10
    long_ids = [f"{i}[].pbs-server.example.org" for i in range(500)]
    assert all(len(",".join(g)) <= MAX_ID_CHARS for g in split_ids(long_ids))
    assert split_ids([]) == [] and split_ids(["1"]) == [["1"]]


def test_two_thousand_ids_one_round_of_bounded_sacct_commands():
    fake = FakeSlurm()
    source = SchedulerStatusSource(fake, schedulers.get("slurm"))
    ids = [str(500 + i) for i in range(2_000)]
    statuses = source.query(ids)
    assert set(statuses) == set(ids) and all(s.state is JobState.RUNNING for s in statuses.values())
    assert [a[0] for a in fake.argvs] == ["sacct"] * 10
    assert all(len(ids_of(a)) <= MAX_IDS_PER_COMMAND for a in fake.argvs)
    assert all(len(" ".join(a)) < MAX_ID_CHARS + 200 for a in fake.argvs)
    assert sorted(i for a in fake.argvs for i in ids_of(a)) == sorted(ids)  # each id asked once
    assert all(name.startswith("clustrix-status") for name in fake.threads)  # side by side


def test_no_ids_no_command():
    fake = FakeSlurm()
    assert SchedulerStatusSource(fake, schedulers.get("slurm")).query([]) == {}
    assert fake.argvs == []


def test_a_small_round_is_still_one_command_in_the_callers_thread():
    fake = FakeSlurm()
    SchedulerStatusSource(fake, schedulers.get("slurm")).query(["1", "2", "3"])
    assert len(fake.argvs) == 1 and fake.threads == {threading.current_thread().name}


def test_accounting_off_switches_every_part_of_the_round_to_squeue_once():
    fake = FakeSlurm(no_accounting=True)
    source = SchedulerStatusSource(fake, schedulers.get("slurm"))
    ids = [str(i) for i in range(1, 451)]
    statuses = source.query(ids)
    assert set(statuses) == set(ids) and source.use_fallback
    assert [a[0] for a in fake.argvs].count("squeue") == 3
    fake.argvs.clear()
    source.query(ids)
    assert [a[0] for a in fake.argvs] == ["squeue"] * 3  # sacct is not tried again


def test_a_command_that_ignores_ids_runs_once_per_round():
    class FakeSge:
        argvs: list[list[str]] = []

        def run(self, argv, **kw):
            self.argvs.append(list(argv))
            return Completed(argv, 0, "<?xml version='1.0'?><job_info><queue_info/><job_info/></job_info>\n", "")

    fake = FakeSge()
    SchedulerStatusSource(fake, schedulers.get("sge")).query([str(i) for i in range(1, 901)])
    assert len(fake.argvs) == 1 and fake.argvs[0][0] == "qstat"


def test_cancel_of_many_jobs_is_split_too(monkeypatch: pytest.MonkeyPatch):
    fake = FakeSlurm()
    launcher = SchedulerLauncher(fake, schedulers.get("slurm"), Profile(name="p", backend="slurm"))
    launcher.cancel([str(i) for i in range(1, 451)])
    assert [len(a) - 1 for a in fake.argvs] == [200, 200, 50] and {a[0] for a in fake.argvs} == {"scancel"}
    monkeypatch.setattr(scheduler_source, "MAX_IDS_PER_COMMAND", 2)
    fake.argvs.clear()
    launcher.cancel(["7", "8", "9"])
    assert fake.argvs == [["scancel", "7", "8"], ["scancel", "9"]]
