"""Dispatch never waits for the engine's loop: on submit and on a job's exit.

The engine runs in this process and its main loop is never started, so a job can only start
through the submit request itself or through the exit of the job before it. Assertions are on
states, never on times.
"""

from __future__ import annotations

import os

import pytest

from clustrix_sim.engine.model import ClusterConfig, JobRequest, PartitionRecord, make_nodes
from clustrix_sim.engine.service import Engine

EXIT_DEADLINE_S = 30.0


@pytest.fixture
def engine(tmp_path):
    nodes = make_nodes(1, 1, 1024)  # one CPU: a second job waits for the first
    nodes[0].partitions.append("normal")
    config = ClusterConfig(user="tester", nodes=nodes,
                           partitions=[PartitionRecord(name="normal", nodes=[nodes[0].name], default=True)])
    eng = Engine(str(tmp_path / "state"), config)
    yield eng
    eng.shutdown()


def submit(engine: Engine, work_dir, script: str) -> int:
    req = JobRequest(script=script, name="d", user="tester", uid=os.getuid(), work_dir=str(work_dir))
    return engine.handle("submit", {"request": req.to_dict()})["job_id"]


def states(engine: Engine) -> dict[int, str]:
    with engine.state.lock:
        return {job_id: rec.state for job_id, rec in engine.state.jobs.items()}


def wait_exit_recorded(engine: Engine, job_id: int) -> None:
    with engine.state.lock:
        info = engine.lifecycle.running.get(job_id)
    if info is not None:
        assert info.done.wait(EXIT_DEADLINE_S), f"job {job_id} did not exit"


def test_a_job_that_fits_is_running_when_its_submit_returns(engine, tmp_path):
    job = submit(engine, tmp_path, "#!/bin/sh\nsleep 30\n")
    assert states(engine)[job] == "RUNNING"
    assert engine.lifecycle.running[job].pid > 0


def test_a_finished_job_frees_its_slot_for_the_next_before_its_exit_is_visible(engine, tmp_path):
    first = submit(engine, tmp_path, "#!/bin/sh\nwhile [ ! -e go ]; do sleep 0.01; done\n")
    second = submit(engine, tmp_path, "#!/bin/sh\nsleep 30\n")
    assert states(engine) == {first: "RUNNING", second: "PENDING"}
    (tmp_path / "go").touch()  # lets the first job finish
    wait_exit_recorded(engine, first)
    assert states(engine) == {first: "COMPLETED", second: "RUNNING"}


def test_no_dispatch_once_the_engine_is_stopping(engine, tmp_path):
    engine.stopping.set()
    job = submit(engine, tmp_path, "#!/bin/sh\ntrue\n")
    assert states(engine)[job] == "PENDING"


def test_held_and_blocked_jobs_are_not_started_by_submit(engine, tmp_path):
    req = JobRequest(script="#!/bin/sh\ntrue\n", name="h", user="tester", uid=os.getuid(),
                     work_dir=str(tmp_path), hold=True)
    held = engine.handle("submit", {"request": req.to_dict()})["job_id"]
    assert states(engine)[held] == "PENDING"
