"""Maps on the simulated SLURM cluster over real SSH: chunking, bulk cancel, the progress bar.

Commands are counted by wrapping the backend transport's ``run``; the scheduler's own records
(``sim.jobs()``) say how many array tasks a map became and how each ended.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid

import cloudpickle
import pytest
from map_jobs import Oops, fail_first_else_wait, triple

import clustrix.api.executor as executor_module
from clustrix.api.decorator import cluster, executor_for, shutdown_executors
from clustrix.api.executor import ClusterExecutor
from clustrix.api.progress import Progress
from clustrix.config.profile import Profile

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 90



def started_then_wait(marker_dir, go, i):
    open(os.path.join(marker_dir, str(i)), "w").close()
    return fail_first_else_wait(go, i + 1)


def profile(sim, tmp_path, **overrides) -> Profile:
    return Profile.from_mapping(sim.profile(name=f"maps-{uuid.uuid4().hex[:8]}",
                                            remote_dir=str(tmp_path / "jobs"), **overrides))


def count_commands(backend) -> list[str]:
    """Start recording the names of the commands ``backend`` runs; returns the live list."""
    seen: list[str] = []
    run = backend.transport.run

    def counting_run(argv, **kw):
        seen.append(os.path.basename(argv[0]))
        return run(argv, **kw)

    backend.transport.run = counting_run
    return seen


def tasks_named(sim, name):
    return sorted((r for r in sim.jobs(full=True) if r.request.name == name), key=lambda r: r.array_task_id)


def wait_for(predicate, timeout_s=DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def go(tmp_path):
    path = tmp_path / "go"
    yield path
    path.touch()  # whatever is still waiting (only after a failed test) finishes


@pytest.fixture(autouse=True)
def no_shared_executors():
    yield
    shutdown_executors(wait=False)


# -- chunking -----------------------------------------------------------------------------------


def test_chunk_size_per_call_and_from_the_profile(slurm, tmp_path):
    with ClusterExecutor(profile(slurm, tmp_path, array_chunk_size=3), name="chunk-exec") as ex:
        assert list(ex.map(triple, range(7))) == [3 * i for i in range(7)]  # profile: 3 per task
        assert list(ex.map(triple, range(10), chunksize=4)) == [3 * i for i in range(10)]
    runs = {}
    for rec in tasks_named(slurm, "chunk-exec"):
        runs.setdefault(rec.array_job_id, []).append(rec.array_task_id)
    assert sorted(len(tasks) for tasks in runs.values()) == [3, 3]  # ceil(7/3) and ceil(10/4)

    @cluster(profile=slurm.profile(name="chunk-deco", remote_dir=str(tmp_path / "jobs")), name="chunk-deco")
    def add(a, b):
        return a + b

    assert add.map(range(10), range(10), chunk_size=5) == [2 * i for i in range(10)]
    assert len(tasks_named(slurm, "chunk-deco")) == 2
    assert add.map(range(3), range(3)) == [0, 2, 4]  # automatic: one item per task
    assert len(tasks_named(slurm, "chunk-deco")) == 2 + 3


# -- bulk cancel ----------------------------------------------------------------------------------


def test_executor_map_error_cancels_the_rest_with_one_scancel(slurm, tmp_path, go):
    with ClusterExecutor(profile(slurm, tmp_path), name="cancel-exec") as ex:
        seen = count_commands(ex.backend)
        results = ex.map(fail_first_else_wait, [str(go)] * 12, range(12))
        with pytest.raises(Oops, match="item 0 failed"):
            next(results)
        assert seen.count("scancel") == 1
        for rec in tasks_named(slurm, "cancel-exec")[1:]:
            assert slurm.wait_job(rec.job_id, timeout_s=DEADLINE_S).state.startswith("CANCELLED")
    assert seen.count("scancel") == 1  # shutdown found nothing left to cancel


def test_executor_map_timeout_cancels_with_one_scancel(slurm, tmp_path, go):
    with ClusterExecutor(profile(slurm, tmp_path), name="timeout-exec") as ex:
        seen = count_commands(ex.backend)
        results = ex.map(fail_first_else_wait, [str(go)] * 6, range(1, 7), timeout=0.5)
        with pytest.raises(TimeoutError):
            next(results)
        assert seen.count("scancel") == 1
        for rec in tasks_named(slurm, "timeout-exec"):
            assert slurm.wait_job(rec.job_id, timeout_s=DEADLINE_S).state.startswith("CANCELLED")


def test_cancel_futures_of_part_of_an_array_is_one_command(slurm, tmp_path, go):
    with ClusterExecutor(profile(slurm, tmp_path), name="part-exec") as ex:
        seen = count_commands(ex.backend)
        futs = ex.submit_array(triple, range(3)) + ex.submit_items(
            fail_first_else_wait, [((str(go), i), {}) for i in range(1, 7)])
        assert [f.result(timeout=DEADLINE_S) for f in futs[:3]] == [0, 3, 6]
        assert ex.cancel_futures(futs[:3] + futs[3:6]) == 3  # finished ones are left alone
        assert seen.count("scancel") == 1
        assert all(f.cancelled() for f in futs[3:6]) and not any(f.done() for f in futs[6:])
        go.touch()
        assert [f.result(timeout=DEADLINE_S) for f in futs[6:]] == [4, 5, 6]
        assert futs[0].cancel() is False  # a single future keeps its semantics


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_ctrl_c_in_decorated_map_cancels_the_array_with_one_scancel(slurm, tmp_path, go):
    assert threading.current_thread() is threading.main_thread()
    markers = tmp_path / "started"
    markers.mkdir()

    @cluster(profile=slurm.profile(name="ctrl-c", remote_dir=str(tmp_path / "jobs")), name="ctrl-c-map")
    def item(marker_dir, go_path, i):
        return started_then_wait(marker_dir, go_path, i)

    seen = count_commands(executor_for(item.profile).backend)
    main_id = threading.main_thread().ident

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + DEADLINE_S
        while len(os.listdir(markers)) < 4:
            if time.monotonic() > deadline:
                return  # the test then fails: map would not be interrupted
            time.sleep(0.02)
        signal.pthread_kill(main_id, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        item.map([str(markers)] * 4, [str(go)] * 4, range(4))
    presser.join(10)
    assert seen.count("scancel") == 1
    for rec in tasks_named(slurm, "ctrl-c-map"):
        assert slurm.wait_job(rec.job_id, timeout_s=DEADLINE_S).state.startswith("CANCELLED")


# -- progress bar ---------------------------------------------------------------------------------


class RecordingProgress(Progress):
    """Always enabled; remembers which threads called close() and whether the bar was open then."""

    made: list[RecordingProgress] = []

    def __init__(self, futures, **kw):
        kw["enabled"] = True
        super().__init__(futures, **kw)
        self.closes: list[tuple[threading.Thread, bool]] = []
        RecordingProgress.made.append(self)

    def close(self) -> None:
        self.closes.append((threading.current_thread(), self.enabled))
        super().close()


def test_executor_map_closes_its_bar_before_the_last_result(slurm, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(executor_module, "Progress", RecordingProgress)
    RecordingProgress.made.clear()
    with ClusterExecutor(profile(slurm, tmp_path, array_chunk_size=2)) as ex:
        got = []
        for value in ex.map(triple, range(6)):
            if len(got) == 5:  # about to hand out the last value: the bar is gone already
                (bar,) = RecordingProgress.made
                assert not bar.enabled and any(t is threading.current_thread() for t, _ in bar.closes)
            got.append(value)
    assert got == [0, 3, 6, 9, 12, 15]
    assert "/6" in capsys.readouterr().err  # it was drawn while waiting
