"""Scheduling rules as pure functions: validation, reasons, backfill, limits, dependencies."""

from __future__ import annotations

import pytest

from clustrix_sim.engine import scheduling
from clustrix_sim.engine.model import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    ClusterConfig,
    Dependency,
    JobRequest,
    PartitionRecord,
    make_nodes,
)


def request(**kw) -> JobRequest:
    base = dict(script="#!/bin/sh\ntrue\n", name="job", user="alice", uid=1000, work_dir="/work/jobs")
    base.update(kw)
    return JobRequest(**base)


class Cluster:
    """A model-only cluster: nodes, partitions and records, no processes."""

    def __init__(self, nodes=2, cpus=4, mem_mb=16384, gpus=0, parts=None):
        self.nodes = {n.name: n for n in make_nodes(nodes, cpus, mem_mb, gpus)}
        self.parts = {p.name: p for p in (parts or [PartitionRecord("normal", list(self.nodes), default=True)])}
        self.cfg = ClusterConfig(nodes=list(self.nodes.values()), partitions=list(self.parts.values()))
        self.jobs = {}
        self.arrays = {}
        self.next_id = 100

    def submit(self, **kw):
        req = request(**kw)
        scheduling.validate_submit(req, self.cfg, self.nodes, self.parts)
        recs = scheduling.expand(req, self.next_id, 0.0)
        self.next_id += len(recs)
        for rec in recs:
            self.jobs[rec.job_id] = rec
            if rec.array_job_id is not None:
                self.arrays.setdefault(rec.array_job_id, []).append(rec)
        return recs

    def tick(self, now=0.0):
        pending = [r for r in self.jobs.values() if r.state == PENDING]
        per_array = {}
        for r in self.jobs.values():
            if r.state == RUNNING and r.array_job_id is not None:
                per_array[r.array_job_id] = per_array.get(r.array_job_id, 0) + 1
        starts = scheduling.schedule_pass(pending, self.nodes, self.parts,
                                          scheduling.JobIndex(self.jobs, self.arrays), per_array, now)
        for s in starts:
            rec = self.jobs[s.job_id]
            rec.state, rec.node_list, rec.start_time = RUNNING, s.node_names, now
            rec.allocs = s.allocations
        return [s.job_id for s in starts]

    def finish(self, rec, state=COMPLETED):
        for name, cpus, mem, gpus in rec.allocs:
            scheduling.release(self.nodes[name], cpus, mem, gpus)
        rec.state = state


def test_fifo_fills_nodes_then_reports_resources_and_priority():
    c = Cluster(nodes=2, cpus=2)
    a, b, d, e = (c.submit(cpus_per_task=2)[0] for _ in range(4))
    assert c.tick() == [a.job_id, b.job_id]
    assert (d.reason, e.reason) == ("Resources", "Priority")
    assert c.nodes["c1"].state == "allocated"
    c.finish(a)
    assert c.tick() == [d.job_id]
    assert e.reason == "Resources"


def test_backfill_starts_a_smaller_later_job_while_the_head_waits():
    c = Cluster(nodes=1, cpus=4)
    c.submit(cpus_per_task=3)
    big = c.submit(cpus_per_task=4)[0]
    small = c.submit(cpus_per_task=1)[0]
    c.tick()
    c.tick()
    assert big.state == PENDING and big.reason == "Resources"
    assert small.state == RUNNING


def test_array_task_limit_caps_running_tasks():
    c = Cluster(nodes=2, cpus=8)
    tasks = c.submit(array_indices=list(range(10)), array_max_parallel=3)
    assert len(c.tick()) == 3
    assert {t.reason for t in tasks if t.state == PENDING} == {"JobArrayTaskLimit"}
    assert tasks[0].array_job_id == tasks[0].job_id and tasks[1].job_id == tasks[0].job_id + 1
    c.finish(tasks[0])
    assert len(c.tick()) == 1


def test_hold_and_dependency_reasons():
    c = Cluster()
    held = c.submit(hold=True)[0]
    first = c.submit()[0]
    after = c.submit(dependencies=[Dependency("afterok", [str(first.job_id)])])[0]
    c.tick()
    assert held.reason == "JobHeldUser" and held.state == PENDING
    assert after.reason == "Dependency"
    c.finish(first, FAILED)
    c.tick()
    assert after.reason == "DependencyNeverSatisfied" and after.state == PENDING


@pytest.mark.parametrize("kind, outcome, expected", [
    ("afterok", COMPLETED, "ok"), ("afterok", FAILED, "never"),
    ("afternotok", FAILED, "ok"), ("afternotok", COMPLETED, "never"),
    ("afterany", CANCELLED, "ok"), ("after", RUNNING, "ok"),
])
def test_dependency_kinds(kind, outcome, expected):
    c = Cluster()
    first = c.submit()[0]
    second = c.submit(dependencies=[Dependency(kind, [str(first.job_id)])])[0]
    first.state, first.start_time = outcome, 0.0
    index = scheduling.JobIndex(c.jobs, c.arrays)
    assert scheduling.dependency_state(second, index, 0.0) == expected


def test_dependency_on_array_waits_for_every_task_and_or_clauses():
    c = Cluster()
    tasks = c.submit(array_indices=[0, 1])
    other = c.submit()[0]
    dep = c.submit(dependencies=[Dependency("afterok", [str(tasks[0].job_id)])])[0]
    either = c.submit(dependencies=[Dependency("afterok", [str(tasks[0].job_id)]),
                                    Dependency("afterok", [str(other.job_id)])], dependency_any=True)[0]
    index = scheduling.JobIndex(c.jobs, c.arrays)
    tasks[0].state = COMPLETED
    assert scheduling.dependency_state(dep, index, 0.0) == "wait"
    other.state = COMPLETED
    assert scheduling.dependency_state(either, index, 0.0) == "ok"
    tasks[1].state = COMPLETED
    assert scheduling.dependency_state(dep, index, 0.0) == "ok"
    one = c.submit(dependencies=[Dependency("afterok", [f"{tasks[0].job_id}_1"])])[0]
    assert scheduling.dependency_state(one, index, 0.0) == "ok"


def test_singleton_waits_for_earlier_job_with_same_name():
    c = Cluster()
    first = c.submit(name="solo")[0]
    second = c.submit(name="solo", dependencies=[Dependency("singleton")])[0]
    c.tick()
    assert first.state == RUNNING and second.reason == "Dependency"
    c.finish(first)
    assert second.job_id in c.tick()


def test_after_with_minutes_waits_for_sim_time():
    c = Cluster()
    first = c.submit()[0]
    second = c.submit(dependencies=[Dependency("after", [str(first.job_id)], minutes=2)])[0]
    c.tick(now=0.0)
    assert second.reason == "Dependency"
    assert c.tick(now=119.0) == []
    assert c.tick(now=121.0) == [second.job_id]


@pytest.mark.parametrize("kw, kind", [
    (dict(partition="nope"), "invalid_partition"),
    (dict(mem_mb=20000), "node_config_unavailable"),
    (dict(cpus_per_task=5), "node_config_unavailable"),
    (dict(gpus=1), "node_config_unavailable"),
    (dict(nodes=3), "node_count"),
    (dict(array_indices=[0, 5000]), "array_spec"),
    (dict(dependencies=[Dependency("whenever", ["1"])]), "dependency"),
])
def test_submit_refusals_use_slurm_error_kinds(kw, kind):
    with pytest.raises(scheduling.SubmitError) as info:
        Cluster().submit(**kw)
    assert info.value.kind == kind


def test_partition_time_limit_rejects_when_enforced_and_pends_otherwise():
    strict = PartitionRecord("short", ["c1", "c2"], default=True, max_time_s=600, enforce_limits=True)
    with pytest.raises(scheduling.SubmitError) as info:
        Cluster(parts=[strict]).submit(time_limit_s=601)
    assert info.value.kind == "time_limit"
    lax = PartitionRecord("short", ["c1", "c2"], default=True, max_time_s=600, enforce_limits=False)
    c = Cluster(parts=[lax])
    rec = c.submit(time_limit_s=601)[0]
    ok = c.submit()[0]
    assert ok.request.time_limit_s == 600  # the partition's MaxTime is the default limit
    c.tick()
    assert rec.reason == "PartitionTimeLimit" and ok.state == RUNNING


def test_memory_and_exclusive_allocation():
    c = Cluster(nodes=1, cpus=4, mem_mb=1000)
    a = c.submit(mem_mb=600)[0]
    b = c.submit(mem_mb=600)[0]
    c.tick()
    assert a.state == RUNNING and b.reason == "Resources"
    c.finish(a)
    excl = c.submit(exclusive=True)[0]
    c.tick()
    assert b.state == RUNNING and excl.state == PENDING
    c.finish(b)
    c.tick()
    assert excl.state == RUNNING and c.nodes["c1"].alloc_cpus == 4


def test_default_memory_is_a_cpu_share_and_only_explicit_memory_is_enforced():
    node = make_nodes(1, 4, 16000)[0]
    assert scheduling.need_of(request(cpus_per_task=2)).mem_on(node) == 8000
    assert scheduling.need_of(request()).enforced_mem_mb(node) is None
    assert scheduling.need_of(request(mem_per_cpu_mb=100, cpus_per_task=3)).enforced_mem_mb(node) == 300
    assert scheduling.need_of(request(mem_mb=0)).enforced_mem_mb(node) == 16000


def test_partition_lists_and_down_nodes():
    parts = [PartitionRecord("a", ["c1"], default=True), PartitionRecord("b", ["c2"])]
    c = Cluster(parts=parts)
    c.nodes["c1"].state = "down"
    rec = c.submit(partition="a,b")[0]
    c.tick()
    assert rec.state == RUNNING and rec.node_list == ["c2"]
    stuck = c.submit(partition="a")[0]
    c.tick()
    assert stuck.reason == "Resources"


def _decisions(cluster):
    return {r.job_id: (r.state, r.reason, r.acct_reason, r.eligible_time) for r in cluster.jobs.values()}


def _mixed_queue(cluster):
    """Arrays that fit partly, a throttled array, a held task, a task with its own dependency,
    and single jobs queued between them (with a backfilled small one)."""
    cluster.submit(cpus_per_task=2, array_indices=list(range(12)))
    throttled = cluster.submit(cpus_per_task=1, array_indices=list(range(8)), array_max_parallel=2)
    cluster.submit(cpus_per_task=4)
    held = cluster.submit(cpus_per_task=1, array_indices=list(range(6)))
    held[2].held = True
    cluster.submit(cpus_per_task=1, array_indices=list(range(5)),
                   dependencies=[Dependency("aftercorr", [str(throttled[0].array_job_id)])])
    cluster.submit(cpus_per_task=1)
    cluster.submit(cpus_per_task=1, partition="small", array_indices=list(range(4)))


@pytest.mark.parametrize("rounds", [1, 6])
def test_waiting_array_twins_get_the_reasons_a_full_check_gives(monkeypatch, rounds):
    """schedule_pass decides a waiting array task's twins at once (_twin_key); it must start the
    same jobs and leave the same reasons as checking every task, pass after pass."""
    parts = [PartitionRecord("normal", ["c1", "c2"], default=True), PartitionRecord("small", ["c3"])]
    fast, full = Cluster(nodes=3, cpus=4, parts=parts), Cluster(nodes=3, cpus=4, parts=parts)
    for cluster in (fast, full):
        _mixed_queue(cluster)
    seen = set()
    for step in range(rounds):
        started_fast = fast.tick(now=float(step))
        seen |= {r.reason for r in fast.jobs.values() if r.state == PENDING}
        with monkeypatch.context() as m:
            m.setattr(scheduling, "_twin_key", lambda rec, running: None)
            started_full = full.tick(now=float(step))
        assert started_fast == started_full
        assert _decisions(fast) == _decisions(full)
        for cluster in (fast, full):  # finish the oldest running jobs so the next pass has room
            for rec in sorted((r for r in cluster.jobs.values() if r.state == RUNNING), key=lambda r: r.job_id)[:3]:
                cluster.finish(rec)
    assert {"Priority", "JobHeldUser", "Dependency"} <= seen  # the mix was exercised
    if rounds > 1:
        assert "JobArrayTaskLimit" in seen
