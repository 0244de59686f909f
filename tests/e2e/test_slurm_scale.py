"""Scale on the simulated SLURM cluster over real SSH: maps bigger than MaxArraySize, many live jobs.

The site's MaxArraySize is made small (10) so that a 35-item map needs four arrays; the simulator
enforces it as slurmctld does, so an unsplit array would be refused. Status commands are made to
carry at most 4 ids, so 11 live jobs need three sacct commands per status round.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator

import cloudpickle
import pytest
from e2e_env import code_under_test_sim
from map_jobs import Oops, fail_first_else_wait, triple

from clustrix.api.executor import ClusterExecutor
from clustrix.config.profile import Profile
from clustrix.errors import SubmissionError
from clustrix.polling import scheduler_source

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 120
LIMIT = 10



@pytest.fixture(scope="module")
def small_site() -> Iterator[object]:
    """A SLURM cluster whose MaxArraySize is 10 (array indices 0..9)."""
    sim = code_under_test_sim()(scheduler="slurm", ssh=True, nodes=2, cores_per_node=4, mem_per_node="8G",
                                time_scale=60, max_array_size=LIMIT)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def go(tmp_path):
    path = tmp_path / "go"
    yield path
    path.touch()


def profile(sim, tmp_path, **overrides) -> Profile:
    return Profile.from_mapping(sim.profile(name=f"scale-{uuid.uuid4().hex[:8]}",
                                            remote_dir=str(tmp_path / "jobs"), **overrides))


def count_commands(backend) -> list[list[str]]:
    seen: list[list[str]] = []
    run = backend.transport.run

    def counting_run(argv, **kw):
        seen.append([os.path.basename(argv[0]), *argv[1:]])
        return run(argv, **kw)

    backend.transport.run = counting_run
    return seen


def arrays_named(sim, name) -> dict[int, list[int]]:
    arrays: dict[int, list[int]] = {}
    for rec in sim.jobs(full=True):
        if rec.request.name == name:
            arrays.setdefault(rec.array_job_id, []).append(rec.array_task_id)
    return arrays


def test_map_bigger_than_max_array_size_is_split_and_keeps_input_order(small_site, tmp_path):
    with ClusterExecutor(profile(small_site, tmp_path, max_array_size=LIMIT), name="split-map") as ex:
        seen = count_commands(ex.backend)
        assert list(ex.map(triple, range(35), chunksize=1)) == [3 * i for i in range(35)]
    assert [c[0] for c in seen].count("sbatch") == 4
    arrays = arrays_named(small_site, "split-map")
    assert sorted(sorted(tasks) for tasks in arrays.values()) == [list(range(5))] + [list(range(10))] * 3


def test_the_site_refuses_an_unsplit_array(small_site, tmp_path):
    with ClusterExecutor(profile(small_site, tmp_path, max_array_size=1000), name="unsplit-map") as ex:
        with pytest.raises(SubmissionError, match="Invalid job array specification"):
            ex.submit_array(triple, range(35), chunk_size=1)


def test_cancel_of_a_split_map_cancels_every_part_with_one_scancel(small_site, tmp_path, go):
    with ClusterExecutor(profile(small_site, tmp_path, max_array_size=LIMIT), name="split-cancel") as ex:
        seen = count_commands(ex.backend)
        results = ex.map(fail_first_else_wait, [str(go)] * 25, range(25), chunksize=1)
        with pytest.raises(Oops, match="item 0 failed"):
            next(results)
        scancels = [c for c in seen if c[0] == "scancel"]
        arrays = arrays_named(small_site, "split-cancel")
        assert len(arrays) == 3 and len(scancels) == 1
        assert sorted(scancels[0][1:]) == sorted(str(a) for a in arrays)  # every part, by its id
        for rec in [r for r in small_site.jobs(full=True) if r.request.name == "split-cancel"]:
            if rec.array_job_id == min(arrays) and rec.array_task_id == 0:
                continue  # item 0 failed on its own
            assert small_site.wait_job(rec.job_id, timeout_s=DEADLINE_S).state.startswith("CANCELLED")


def test_many_live_jobs_are_polled_with_bounded_commands_one_round_at_a_time(slurm, tmp_path, go, monkeypatch):
    monkeypatch.setattr(scheduler_source, "MAX_IDS_PER_COMMAND", 4)
    n_jobs = 11
    with ClusterExecutor(profile(slurm, tmp_path), name="many-live") as ex:
        seen = count_commands(ex.backend)
        source = ex.backend.launcher.source
        rounds: list[tuple[int, list[list[str]]]] = []  # (ids asked, the sacct commands it ran)
        query = source.query

        def recording_query(ids):
            before = len(seen)
            try:
                return query(ids)
            finally:
                rounds.append((len(ids), [c for c in seen[before:] if c[0] == "sacct"]))

        source.query = recording_query
        futures = [ex.submit(fail_first_else_wait, str(go), i) for i in range(1, n_jobs + 1)]
        deadline = time.monotonic() + DEADLINE_S
        while not any(n == n_jobs for n, _ in rounds):
            assert time.monotonic() < deadline, "no status round over every live job"
            time.sleep(0.05)
        go.touch()
        assert [f.result(timeout=DEADLINE_S) for f in futures] == list(range(1, n_jobs + 1))
    sacct = [c for c in seen if c[0] == "sacct"]
    ids_per_command = [len(next(a for a in c if a.startswith("--jobs=")).split(",")) for c in sacct]
    assert max(ids_per_command) <= 4
    full = next(cmds for n, cmds in rounds if n == n_jobs)
    assert len(full) == 3  # one round over all 11 live jobs: 4 + 4 + 3 ids
    assert sorted(i for c in full for i in next(a for a in c if a.startswith("--jobs="))[7:].split(",")) == \
        sorted(f.job_id for f in futures)


def test_a_submission_is_two_sftp_round_trips_and_one_command(slurm, tmp_path, monkeypatch):
    import threading

    from paramiko.sftp import BaseSFTP
    from paramiko.sftp_client import SFTPClient

    trips: dict[str, int] = {}
    sent: dict[int, bool] = {}
    send, read = BaseSFTP._send_packet, BaseSFTP._read_packet

    def counting_send(self, t, packet):
        if isinstance(self, SFTPClient):
            sent[id(self)] = True
        return send(self, t, packet)

    def counting_read(self):
        if isinstance(self, SFTPClient) and sent.get(id(self)):
            sent[id(self)] = False
            name = threading.current_thread().name
            trips[name] = trips.get(name, 0) + 1
        return read(self)

    with ClusterExecutor(profile(slurm, tmp_path), name="round-trips") as ex:
        assert ex.submit(triple, 1).result(timeout=DEADLINE_S) == 3  # warm: login, key agreed
        seen: list[tuple[str, str]] = []  # (thread, tool) of each command; the poller runs sacct meanwhile
        run = ex.backend.transport.run

        def naming_run(argv, **kw):
            seen.append((threading.current_thread().name, os.path.basename(argv[0])))
            return run(argv, **kw)

        ex.backend.transport.run = naming_run
        monkeypatch.setattr(BaseSFTP, "_send_packet", counting_send)
        monkeypatch.setattr(BaseSFTP, "_read_packet", counting_read)
        me = threading.current_thread().name
        futures = [ex.submit(triple, 2)]
        mine = lambda: [tool for name, tool in seen if name == me]  # noqa: E731
        assert trips.get(me, 0) == 2 and mine() == ["sbatch"]  # stage (2 round trips) + sbatch
        futures += ex.submit_array(triple, range(30), chunk_size=3)
        assert trips.get(me, 0) == 4 and mine() == ["sbatch", "sbatch"]
        assert futures[0].result(timeout=DEADLINE_S) == 6
        assert [f.result(timeout=DEADLINE_S) for f in futures[1:]] == [3 * i for i in range(30)]


def test_a_part_refused_cancels_the_parts_already_submitted(small_site, tmp_path, go):
    small_site.faults.clear()
    with ClusterExecutor(profile(small_site, tmp_path, max_array_size=LIMIT), name="split-refused") as ex:
        launcher = ex.backend.launcher
        submit = launcher.submit
        submitted: list[str] = []

        def first_then_refuse(spec, paths):
            job_id = submit(spec, paths)
            submitted.append(job_id)
            small_site.faults.fail_submissions(
                1, message="sbatch: error: Batch job submission failed: Job violates accounting/QOS policy")
            return job_id

        launcher.submit = first_then_refuse
        try:
            with pytest.raises(SubmissionError, match="accounting/QOS policy"):
                ex.submit_items(fail_first_else_wait, [((str(go), i), {}) for i in range(1, 16)], chunk_size=1)
        finally:
            small_site.faults.clear()
        assert len(submitted) == 1
        tasks = [r for r in small_site.jobs(full=True) if r.request.name == "split-refused"]
        assert len(tasks) == LIMIT  # only the first part exists, and it was cancelled
        for rec in tasks:
            assert small_site.wait_job(rec.job_id, timeout_s=DEADLINE_S).state.startswith("CANCELLED")
