"""Every fault-injection rule, through SimCluster.faults and the protocol the tools use."""

from __future__ import annotations

import os
import time

import pytest

from clustrix_sim import SimCluster
from clustrix_sim.controller import protocol
from clustrix_sim.engine.fault_injection import FaultRules
from clustrix_sim.engine.model import JobRequest
from clustrix_sim.engine.processes import pid_alive
from clustrix_sim.faults import DEFAULT_STATUS_MESSAGE, DEFAULT_SUBMIT_MESSAGE


def submit(sim: SimCluster, body: str, work_dir, **kw) -> int:
    req = JobRequest(script=f"#!/bin/bash\n{body}\n", name="job", user="alice", uid=os.getuid(),
                     work_dir=str(work_dir), **kw)
    return sim.call("submit", {"request": req.to_dict()}, tool="sbatch")["job_id"]


@pytest.fixture(scope="module")
def sim():
    with SimCluster(nodes=2, cores_per_node=1, ssh=False) as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def clean_rules(sim):
    yield
    sim.faults.clear()
    for name in ("c1", "c2"):
        sim.faults.resume_node(name)
    sim.faults.enable_accounting()
    for rec in sim.jobs():
        if rec.state in ("PENDING", "RUNNING"):
            sim.call("signal", {"targets": [{"job_id": rec.job_id, "task": None}], "signal": None, "uid": 0})
    sim.wait_idle(20)


def test_fail_submissions_fails_the_next_n_then_recovers(sim, tmp_path):
    before = len(sim.jobs())
    sim.faults.fail_submissions(n=2)
    for _ in range(2):
        with pytest.raises(protocol.InjectedFault) as info:
            submit(sim, "true", tmp_path)
        assert (info.value.stderr, info.value.rc) == (DEFAULT_SUBMIT_MESSAGE + "\n", 1)
    assert len(sim.jobs()) == before  # failed submissions created nothing
    submit(sim, "true", tmp_path)
    assert len(sim.jobs()) == before + 1


def test_fail_status_hits_only_the_named_tools(sim):
    sim.faults.fail_status(n=1, tools=("squeue",), rc=2)
    with pytest.raises(protocol.InjectedFault) as info:
        sim.call("jobs", {}, tool="squeue")
    assert (info.value.stderr, info.value.rc) == (DEFAULT_STATUS_MESSAGE + "\n", 2)
    sim.call("jobs", {}, tool="squeue")  # n=1: consumed
    sim.faults.fail_status(n=None, tools=("sacct",), message="custom")
    for _ in range(3):
        with pytest.raises(protocol.InjectedFault, match="custom"):
            sim.call("accounting", {}, tool="sacct")
    sim.call("jobs", {}, tool="squeue")
    sim.faults.clear()
    sim.call("accounting", {}, tool="sacct")


def test_delay_serves_late(sim):
    sim.faults.delay("squeue", 0.3, n=1)
    began = time.monotonic()
    sim.call("jobs", {}, tool="squeue")
    assert time.monotonic() - began >= 0.3
    assert sim.faults.list()["delays"] == []


def test_fail_node_ends_running_jobs_node_fail_and_resume_brings_it_back(sim, tmp_path):
    job = submit(sim, f"echo $$ > {tmp_path}/pid; sleep 60", tmp_path)
    rec = sim.wait_job(job, 20, states=["RUNNING"])
    deadline = time.monotonic() + 20
    while not (tmp_path / "pid").exists() or not (tmp_path / "pid").read_text().endswith("\n"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pid = int((tmp_path / "pid").read_text())
    sim.faults.fail_node(rec.node_list[0])
    done = sim.wait_job(job, 20)
    assert (done.state, done.reason) == ("NODE_FAIL", "NodeDown")
    sim.wait_for(lambda: not pid_alive(pid), 10, "the job process to die")
    nodes = {n["name"]: n for n in sim.call("nodes")["nodes"]}
    assert nodes[rec.node_list[0]]["state"] == "down"
    other = sim.wait_job(submit(sim, "true", tmp_path), 20)
    assert other.node_list != rec.node_list
    sim.faults.resume_node(rec.node_list[0])
    assert {n["state"] for n in sim.call("nodes")["nodes"]} == {"idle"}
    with pytest.raises(protocol.RequestRefused, match="unknown node"):
        sim.faults.fail_node("c99")


@pytest.mark.parametrize("requeue", [False, True])
def test_preempt(sim, tmp_path, requeue):
    job = submit(sim, f"echo start >> {tmp_path}/starts; sleep 60", tmp_path)
    starts = tmp_path / "starts"
    sim.wait_for(lambda: starts.exists() and starts.read_text() == "start\n", 20, "the first start")
    sim.faults.preempt(job, requeue=requeue)
    if requeue:
        sim.wait_for(lambda: sim.job(job).restart_count == 1 and sim.job(job).state == "RUNNING", 20, "restart")
        sim.wait_for(lambda: (tmp_path / "starts").read_text() == "start\nstart\n", 20, "second start")
    else:
        assert sim.wait_job(job, 20).state == "PREEMPTED"
    with pytest.raises(protocol.RequestRefused, match="not running"):
        sim.faults.preempt(999999)


def test_purge_finished_and_min_job_age(sim, tmp_path):
    job = submit(sim, "true", tmp_path)
    sim.wait_job(job, 20)
    assert sim.call("jobs", {"job_ids": [job]})["jobs"]
    sim.faults.purge_finished()
    assert sim.call("jobs", {"job_ids": [job]})["jobs"] == []
    assert sim.jobs([job])[0].state == "COMPLETED"
    sim.faults.set_min_job_age(0)
    other = submit(sim, "true", tmp_path)
    sim.wait_job(other, 20)
    sim.wait_for(lambda: not sim.call("jobs", {"job_ids": [other]})["jobs"], 10, "immediate purge")
    sim.faults.set_min_job_age(300)


def test_disable_accounting(sim, tmp_path):
    job = submit(sim, "true", tmp_path)
    sim.wait_job(job, 20)
    sim.faults.disable_accounting()
    with pytest.raises(protocol.RequestRefused) as info:
        sim.call("accounting", {}, tool="sacct")
    assert info.value.kind == "accounting_disabled"
    assert [r.job_id for r in sim.jobs([job])] == [job]  # SimCluster.jobs falls back to the queue
    sim.faults.enable_accounting()
    assert sim.call("accounting", {"job_ids": [job]}, tool="sacct")["jobs"]


def test_drop_ssh_without_ssh_server_is_refused(sim):
    with pytest.raises(protocol.RequestRefused, match="no SSH server"):
        sim.faults.drop_ssh_connections()


def test_bad_fault_arguments_are_refused(sim):
    with pytest.raises(protocol.RequestRefused, match="n must be"):
        sim.faults.fail_submissions(n=0)
    with pytest.raises(protocol.RequestRefused, match="unknown fault action"):
        sim.call("fault", {"action": "explode"})
    with pytest.raises(protocol.RequestRefused, match="seconds"):
        sim.faults.set_min_job_age(-1)


def test_rules_count_down_and_clear():
    rules = FaultRules()
    rules.add_failure(ops={"submit"}, tools=None, n=1, message="boom", rc=3)
    rules.add_delay("squeue", 0.5, n=2)
    assert rules.intercept("jobs", "sacct") == (0.0, None)
    assert rules.intercept("submit", "sbatch") == (0.0, {"stderr": "boom\n", "stdout": "", "rc": 3})
    assert rules.intercept("submit", "sbatch") == (0.0, None)
    assert rules.intercept("jobs", "squeue") == (0.5, None)
    rules.clear()
    assert rules.intercept("jobs", "squeue") == (0.0, None)
    with pytest.raises(ValueError, match="rc"):
        rules.add_failure(ops=None, tools=None, n=1, message="x", rc=300)
