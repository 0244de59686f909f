"""The poller's fast path (a ResultProbe each tick), driven tick by tick with an injected clock.

Fakes at the pure seam, as in test_poller.py: a status source and a file system that record every
call, so the tests count round trips. The real thing over SSH is in tests/e2e.
"""

from __future__ import annotations

import posixpath

import pytest
from poller_fakes import Clock, FakeSource, Outcomes

from clustrix.errors import CommandError, JobOutOfMemoryError, StatusQueryError, TransportError
from clustrix.polling.poller import Poller, PollerConfig
from clustrix.polling.probe import ResultProbe
from clustrix.polling.resolution import GracePolicy, ResultReady
from clustrix.states import JobState, JobStatus

RUN = JobStatus(JobState.RUNNING, "RUNNING")
PD = JobStatus(JobState.PENDING, "PENDING")
CD = JobStatus(JobState.COMPLETED, "COMPLETED", exit_code=0)


class Files:
    """A fake job file system: reads and directory listings, every call recorded."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.reads: list[list[str]] = []
        self.listings: list[str] = []
        self.fail = False

    def get_files(self, paths):
        self.reads.append(list(paths))
        if self.fail:
            raise TransportError("connection dropped", host="h")
        return {p: self.files.get(p) for p in paths}

    def listdir(self, path):
        self.listings.append(path)
        if self.fail:
            raise TransportError("connection dropped", host="h")
        names = {posixpath.basename(p) for p in self.files if posixpath.dirname(p) == path}
        return names or None


CONFIG = PollerConfig(interval_s=1.0, max_interval_s=8.0, backoff=2.0, status_interval_s=4.0, probe_interval_s=1.0,
                      grace=GracePolicy(result_grace_s=10, missing_grace_s=30),
                      max_transient_failures=3, max_hard_failures=2)


def make(config=CONFIG, max_dirs=32):
    clock, source, files, out = Clock(), FakeSource(), Files(), Outcomes()
    probe = ResultProbe(files, files.listdir, max_dirs_per_tick=max_dirs)
    poller = Poller(source, files, config, probe=probe, clock=clock, sleep=lambda s: None)
    poller._ensure_thread = lambda: None  # these tests drive tick() themselves
    return clock, source, files, out, poller


def test_result_resolves_without_any_status_command():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    assert poller.tick() == 1.0
    assert files.reads == [["/j/1/result.pkl"]] and source.queries == []  # single job: one read
    files.files["/j/1/result.pkl"] = b"v"
    clock.t += 1
    poller.tick()
    assert out.done == {"1": ResultReady(b"v")}
    assert source.queries == [] and files.listings == []


def test_status_rounds_run_on_their_own_slower_schedule():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": PD}
    ticks_with_status = []
    for i in range(16):
        before = len(source.queries)
        delay = poller.tick()
        assert len(source.queries) - before <= 1  # never more than one status command per tick
        if len(source.queries) > before:
            ticks_with_status.append(i)
        clock.t += delay
    assert len(files.reads) == 16  # the probe runs every tick
    # first status round after status_interval_s (4 s), then the gap doubles while nothing changes
    assert ticks_with_status[0] == 4 and len(ticks_with_status) < 8
    assert out.statuses["1"] == [JobState.PENDING]


def test_probe_ticks_back_off_with_quiet_time_and_reset_on_change():
    clock, source, files, out, poller = make(PollerConfig(interval_s=2.0, max_interval_s=30.0,
                                                          status_interval_s=1000.0, probe_fraction=0.1))
    poller.watch([out.watch("1")])
    delays = []
    for _ in range(40):
        d = poller.tick()
        delays.append(d)
        clock.t += d
    assert delays[0] == 1.0 and delays == sorted(delays)  # half the poll interval; never shrinks
    assert 1.0 < delays[-1] <= 30.0
    assert abs(delays[-1] - 0.1 * (clock.t - 1000.0 - delays[-1])) < 1.0  # a tenth of the quiet time
    poller.watch([out.watch("2")])  # a new job: short interval again
    assert poller.tick() == 1.0


def test_array_one_listing_per_directory_and_one_bulk_read():
    clock, source, files, out, poller = make()
    poller.watch([out.task("9", i) for i in range(5)])
    poller.watch([out.watch("10")])
    files.files = {"/j/9/result.1.pkl": b"r1", "/j/9/result.3.pkl": b"r3", "/j/9/stdout.0.log": b""}
    poller.tick()
    assert files.listings == ["/j/9"]
    assert files.reads == [["/j/9/result.1.pkl", "/j/9/result.3.pkl", "/j/10/result.pkl"]]
    assert out.done == {"9_1": ResultReady(b"r1"), "9_3": ResultReady(b"r3")}
    assert sorted(poller.live_keys()) == ["10", "9_0", "9_2", "9_4"]


def test_sentinel_without_result_asks_the_scheduler_once():
    clock, source, files, out, poller = make()
    poller.watch([out.task("9", i) for i in range(2)])
    source.statuses = {"9_0": RUN, "9_1": RUN}
    files.files = {"/j/9/exit_code.0": b"137\n"}
    poller.tick()
    assert source.queries == [["9"]]  # at once, not after status_interval_s
    clock.t += 1
    poller.tick()  # same sentinel, scheduler still says RUNNING: no second round for it
    assert len(source.queries) == 1
    source.statuses["9_0"] = JobStatus(JobState.OUT_OF_MEMORY, "OUT_OF_MEMORY", exit_code=137)
    clock.t += 4
    poller.tick()
    assert isinstance(out.done["9_0"].error, JobOutOfMemoryError)  # the scheduler names the cause


def test_result_resolves_while_status_commands_keep_failing():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    err = CommandError(["sacct"], 1, stderr="sacct: error: Socket timed out on send/recv operation")
    source.fail_next = [StatusQueryError(err, transient=True)] * 2
    for _ in range(100):
        if len(source.queries) >= 2:
            break
        clock.t += poller.tick()
    assert len(source.queries) == 2 and not out.done  # two failed rounds in a row do not fail the job
    files.files["/j/1/result.pkl"] = b"v"
    clock.t += poller.tick()
    assert out.done == {"1": ResultReady(b"v")}


def test_transient_status_failures_still_bounded():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    err = CommandError(["sacct"], 1, stderr="sacct: error: Socket timed out on send/recv operation")
    source.fail_next = [StatusQueryError(err, transient=True)] * 3
    for _ in range(40):
        clock.t += poller.tick()
        if out.done:
            break
    assert len(source.queries) == 3 and "Socket timed out" in str(out.done["1"].error)


def test_probe_failure_never_fails_a_job():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": RUN}
    files.fail = True
    for _ in range(30):
        clock.t += poller.tick()
    assert not out.done and source.queries  # the status rounds went on
    files.fail = False
    files.files["/j/1/result.pkl"] = b"v"
    clock.t += poller.tick()
    assert out.done == {"1": ResultReady(b"v")}


def test_terminal_state_without_result_still_waits_grace_for_it():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1")])
    source.statuses = {"1": CD}
    clock.t += 4
    poller.tick()  # first status round: COMPLETED, but the result is not visible yet
    assert source.queries and not out.done
    clock.t += 3
    files.files["/j/1/result.pkl"] = b"late"
    poller.tick()
    assert out.done == {"1": ResultReady(b"late")}


def test_directories_probed_per_tick_are_capped_round_robin():
    clock, source, files, out, poller = make(max_dirs=2)
    poller.watch([out.watch(str(k)) for k in range(5)])
    seen = []
    for _ in range(3):
        files.reads.clear()
        poller.tick()
        assert len(files.reads) == 1 and len(files.reads[0]) == 2
        seen += files.reads[0]
    assert {f"/j/{k}/result.pkl" for k in range(5)} <= set(seen)


def test_bad_cap_is_named():
    with pytest.raises(ValueError, match="max_dirs_per_tick"):
        ResultProbe(Files(), max_dirs_per_tick=0)


def test_status_round_resolves_with_candidates_as_before():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("1"), out.watch("2")])
    source.statuses = {"1": CD, "2": RUN}
    clock.t += 4
    files.files["/j/1/result.pkl"] = b"v"
    poller.tick()
    assert out.done == {"1": ResultReady(b"v")}
    assert "2" in poller.live_keys()


def test_without_a_lister_one_bulk_read_of_results_and_sentinels_per_tick():
    clock, source, files, out = Clock(), FakeSource(), Files(), Outcomes()
    poller = Poller(source, files, CONFIG, probe=ResultProbe(files), clock=clock, sleep=lambda s: None)
    poller._ensure_thread = lambda: None
    poller.watch([out.task("9", i) for i in range(3)])
    poller.watch([out.watch("10")])
    source.statuses = {"9_0": RUN, "9_1": RUN, "9_2": RUN, "10": RUN}
    files.files = {"/j/9/result.1.pkl": b"r1", "/j/9/exit_code.2": b"137\n", "/j/9/stdout.0.log": b""}
    poller.tick()
    assert files.listings == []
    assert files.reads[0] == ["/j/9/result.0.pkl", "/j/9/exit_code.0", "/j/9/result.1.pkl", "/j/9/exit_code.1",
                              "/j/9/result.2.pkl", "/j/9/exit_code.2", "/j/10/result.pkl", "/j/10/exit_code"]
    assert out.done == {"9_1": ResultReady(b"r1")}
    assert source.queries == [["9", "10"]]  # the sentinel without a result asked the scheduler at once


def test_without_a_lister_sentinels_are_read_every_few_probes():
    """Results on every probe; sentinels (a hint that hastens a status round) every
    SENTINELS_EVERY probes, so a big array's poll is not twice the requests."""
    clock, source, files, out = Clock(), FakeSource(), Files(), Outcomes()
    config = PollerConfig(interval_s=1.0, max_interval_s=8.0, status_interval_s=100.0, probe_interval_s=1.0)
    poller = Poller(source, files, config, probe=ResultProbe(files, sentinels_every=3), clock=clock,
                    sleep=lambda s: None)
    poller._ensure_thread = lambda: None
    poller.watch([out.task("9", i) for i in range(2)])
    source.statuses = {"9_0": RUN, "9_1": RUN}
    for _ in range(4):
        poller.tick()
        clock.t += 1
        if len(files.reads) == 1:
            files.files["/j/9/exit_code.1"] = b"137\n"  # appears after the first probe
    sentinel_reads = [i for i, paths in enumerate(files.reads) if "/j/9/exit_code.0" in paths]
    assert sentinel_reads == [0, 3]
    assert all("/j/9/result.0.pkl" in paths for paths in files.reads)
    assert source.queries == [["9"]]  # the late sentinel was seen on probe 3, which asked at once


def test_probe_refuses_a_nonsense_sentinel_period():
    with pytest.raises(ValueError, match="sentinels_every"):
        ResultProbe(Files(), sentinels_every=0)


def test_with_many_live_tasks_probe_ticks_keep_to_the_file_rate():
    clock, source, files, out = Clock(), FakeSource(), Files(), Outcomes()
    config = PollerConfig(interval_s=1.0, max_interval_s=8.0, status_interval_s=4.0, probe_interval_s=0.01,
                          probe_files_per_s=1000.0)
    poller = Poller(source, files, config, probe=ResultProbe(files), clock=clock, sleep=lambda s: None)
    poller._ensure_thread = lambda: None
    poller.watch([out.task("9", i) for i in range(500)])
    assert poller.tick() == pytest.approx(1.0)  # 2 files x 500 tasks at 1000 files/s
    poller.watch([out.watch("1")])
    files.files["/j/9/result.0.pkl"] = b"r"
    clock.t += 1
    assert poller.tick() == pytest.approx(2 * 500 / 1000.0)  # 499 tasks + 1 job left
    files.files = {f"/j/9/result.{i}.pkl": b"r" for i in range(500)}
    clock.t += 1
    assert poller.tick() == pytest.approx(0.01)  # one job left: the configured shortest gap
