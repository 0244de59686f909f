"""The faults added for the trust work: corrupted/replaced result files, lagging accounting, and
submissions accepted and then reported failed (or cut off with the SSH connection)."""

from __future__ import annotations

import os

import paramiko
import pytest

from clustrix_sim import SimCluster
from clustrix_sim.controller import protocol
from clustrix_sim.engine.fault_accounting import AccountingLag
from clustrix_sim.engine.model import JobRequest
from clustrix_sim.faults import DEFAULT_SUBMIT_MESSAGE


def submit(sim: SimCluster, body: str, work_dir, tool: str = "sbatch") -> int:
    req = JobRequest(script=f"#!/bin/bash\n{body}\n", name="job", user="alice", uid=os.getuid(),
                     work_dir=str(work_dir), stdout_pattern=str(work_dir / "out-%j.log"))
    return sim.call("submit", {"request": req.to_dict()}, tool=tool)["job_id"]


@pytest.fixture(scope="module")
def sim():
    with SimCluster(nodes=2, cores_per_node=2, ssh=True) as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def clean_rules(sim):
    yield
    sim.faults.clear()
    sim.faults.lag_accounting(0)
    sim.wait_idle(20)


def test_corrupt_result_flips_bytes_of_the_next_matching_job_only(sim, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    sim.faults.corrupt_result("result*.pkl", n=1)
    job = submit(sim, "printf 'hello world' > result.pkl", first)
    assert sim.wait_job(job, 20).state == "COMPLETED"
    damaged = (first / "result.pkl").read_bytes()
    assert len(damaged) == len(b"hello world") and damaged != b"hello world"
    assert sim.faults.list()["results"] == []  # n=1: used up
    job = submit(sim, "printf 'hello world' > result.pkl", second)
    assert sim.wait_job(job, 20).state == "COMPLETED"
    assert (second / "result.pkl").read_bytes() == b"hello world"


def test_corrupt_result_replace_swaps_in_another_file_for_the_named_job(sim, tmp_path):
    source = tmp_path / "other-result.pkl"
    source.write_bytes(b"someone else's result")
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    body = f"while [ ! -e {tmp_path}/go ]; do sleep 0.01; done; echo mine > result.3.pkl"
    bystander = submit(sim, body, tmp_path / "x")
    target = submit(sim, body, tmp_path / "y")  # both wait until the rule is in force
    sim.faults.corrupt_result("result.*.pkl", job_id=target, mode="replace", source=str(source))
    (tmp_path / "go").touch()
    for job in (bystander, target):
        assert sim.wait_job(job, 20).state == "COMPLETED"
    assert (tmp_path / "y" / "result.3.pkl").read_bytes() == b"someone else's result"
    assert (tmp_path / "x" / "result.3.pkl").read_bytes() == b"mine\n"


def test_corrupt_result_refuses_bad_arguments(sim):
    with pytest.raises(protocol.RequestRefused, match="mode"):
        sim.faults.corrupt_result("r", mode="shred")
    with pytest.raises(protocol.RequestRefused, match="source"):
        sim.faults.corrupt_result("r", mode="replace", source="/nonexistent/file")


def sacct_states(sim: SimCluster, job_ids: list[int]) -> dict[int, str]:
    found = sim.call("accounting", {"job_ids": job_ids}, tool="sacct")["jobs"]
    return {d["job_id"]: d["state"] for d in found}


def test_lag_accounting_hides_new_jobs_and_shows_old_states(sim, tmp_path):
    old = submit(sim, "true", tmp_path)
    sim.wait_job(old, 20)
    running = submit(sim, "sleep 60", tmp_path)
    sim.wait_job(running, 20, states=["RUNNING"])
    sim.faults.lag_accounting(3600)
    sim.call("signal", {"targets": [{"job_id": running, "task": None}], "signal": None, "uid": 0})
    assert sim.wait_job(running, 20).state == "CANCELLED"  # the controller knows...
    new = submit(sim, "true", tmp_path)
    assert sim.wait_job(new, 20).state == "COMPLETED"
    # ...accounting does not yet: the new job is missing, the cancelled one still running
    assert sacct_states(sim, [old, running, new]) == {old: "COMPLETED", running: "RUNNING"}
    assert {r.job_id: r.state for r in sim.jobs([running, new])} == {running: "CANCELLED", new: "COMPLETED"}
    sim.faults.lag_accounting(0)
    assert sacct_states(sim, [old, running, new]) == {old: "COMPLETED", running: "CANCELLED", new: "COMPLETED"}


def test_accounting_lag_shows_each_version_once_it_is_old_enough():
    now = [100.0]
    lag = AccountingLag(clock=lambda: now[0])
    lag.set(10, {1: "one-old"})
    lag.stored(1, "one-new")
    lag.stored(2, "two-pending")
    assert (lag.view(1), lag.view(2)) == ("one-old", None)
    now[0] = 105.0
    lag.stored(2, "two-done")
    now[0] = 110.0
    assert (lag.view(1), lag.view(2)) == ("one-new", "two-pending")
    now[0] = 115.0
    assert lag.view(2) == "two-done"
    with pytest.raises(ValueError):
        lag.set(-1, {})


def test_accept_then_fail_submissions_creates_the_job_but_reports_failure(sim, tmp_path):
    before = len(sim.jobs())
    sim.faults.accept_then_fail_submissions(n=1)
    with pytest.raises(protocol.InjectedFault) as info:
        submit(sim, "echo ran > ran.txt", tmp_path)
    assert (info.value.stderr, info.value.rc) == (DEFAULT_SUBMIT_MESSAGE + "\n", 1)
    jobs = sim.jobs()
    assert len(jobs) == before + 1  # the job exists although the client heard "failed"
    assert sim.wait_job(jobs[-1].job_id, 20).state == "COMPLETED"
    assert (tmp_path / "ran.txt").read_text() == "ran\n"
    submit(sim, "true", tmp_path)  # n=1: the next submission is answered normally
    assert len(sim.jobs()) == before + 2


def test_accept_then_drop_connection_cuts_the_client_off_after_the_job_exists(sim, tmp_path):
    info = sim.ssh
    client = paramiko.SSHClient()
    client.load_host_keys(info.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(info.host, port=info.port, username=info.user, key_filename=info.key_file,
                   look_for_keys=False, allow_agent=False)
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/bash\n#SBATCH -o {tmp_path}/out-%j.log\necho ran > {tmp_path}/ran.txt\n")
    before = len(sim.jobs())
    sim.faults.accept_then_drop_connection()
    try:
        _, stdout, _ = client.exec_command(f"sbatch {script}", timeout=20)
        output = stdout.read()
        assert b"Submitted batch job" not in output
        transport = client.get_transport()
        sim.wait_for(lambda: transport is None or not transport.is_active(), 10, "the connection to drop")
    finally:
        client.close()
    jobs = sim.jobs()
    assert len(jobs) == before + 1
    assert sim.wait_job(jobs[-1].job_id, 20).state == "COMPLETED"
    assert (tmp_path / "ran.txt").read_text() == "ran\n"
