"""The controller through its protocol: jobs really run, limits are enforced, state persists.

Every wait has a deadline; every test checks that the processes it started are gone.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from clustrix_sim import SimCluster
from clustrix_sim.controller import protocol
from clustrix_sim.engine.model import Dependency, JobRequest
from clustrix_sim.engine.processes import pid_alive

UID = os.getuid()


def submit(sim: SimCluster, body: str, work_dir, *, interpreter: str = "/bin/bash", **kw) -> int:
    """Submit a script through the protocol (what sbatch does); returns the job id."""
    req = JobRequest(script=f"#!{interpreter}\n{body}\n", name=kw.pop("name", "job"), user="alice", uid=UID,
                     work_dir=str(work_dir), env={"PATH": os.environ["PATH"]}, **kw)
    return sim.call("submit", {"request": req.to_dict()}, tool="sbatch")["job_id"]


def wait_file(path, timeout_s: float = 20.0) -> str:
    deadline = time.monotonic() + timeout_s
    while not (os.path.exists(path) and open(path).read().endswith("\n")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was not written within {timeout_s} s")
        time.sleep(0.02)
    return open(path).read()


def assert_gone(pids, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(pid_alive(p) for p in pids):
        assert time.monotonic() < deadline, f"processes still alive: {[p for p in pids if pid_alive(p)]}"
        time.sleep(0.02)


@pytest.fixture
def sim():
    cluster = SimCluster(nodes=2, cores_per_node=2, mem_per_node="4G", ssh=False, time_scale=1.0)
    cluster.start()
    controller = cluster.controller_pid
    yield cluster
    cluster.stop()
    assert_gone([controller])


def test_job_runs_with_slurm_environment_and_output(sim, tmp_path):
    job = submit(sim, 'echo "id=$SLURM_JOB_ID nodes=$SLURM_JOB_NODELIST"; echo oops >&2', tmp_path)
    rec = sim.wait_job(job, 20)
    assert (rec.state, rec.exit_code, rec.exit_signal, rec.reason) == ("COMPLETED", 0, 0, "None")
    assert rec.node_list == ["c1"] and rec.start_time <= rec.end_time
    text = (tmp_path / f"slurm-{job}.out").read_text()
    assert text == f"id={job} nodes=c1\noops\n"


def test_nonzero_exit_is_failed(sim, tmp_path):
    rec = sim.wait_job(submit(sim, "exit 3", tmp_path), 20)
    assert (rec.state, rec.reason, rec.exit_code, rec.exit_signal) == ("FAILED", "NonZeroExitCode", 3, 0)


def test_script_without_shebang_interpreter_runs_python(sim, tmp_path):
    job = submit(sim, "import os; print('py', os.environ['SLURM_JOB_ID'])", tmp_path, interpreter=sys.executable)
    assert sim.wait_job(job, 20).state == "COMPLETED"
    assert (tmp_path / f"slurm-{job}.out").read_text() == f"py {job}\n"


def test_array_of_20_with_limit_4_never_runs_more_than_4(tmp_path):
    log = tmp_path / "events.log"
    body = (f'echo "start $SLURM_ARRAY_TASK_ID" >> {log}; sleep 0.3; '
            f'echo "end $SLURM_ARRAY_TASK_ID" >> {log}')
    with SimCluster(nodes=2, cores_per_node=8, ssh=False) as sim:
        job = submit(sim, body, tmp_path, array_indices=list(range(20)), array_max_parallel=4,
                     array_text="0-19%4")
        sampled_max = 0
        deadline = time.monotonic() + 60
        while True:
            recs = sim.jobs([job])
            running = sum(r.state in ("RUNNING", "COMPLETING") for r in recs)
            sampled_max = max(sampled_max, running)
            assert running <= 4
            if all(r.state == "COMPLETED" for r in recs):
                break
            assert time.monotonic() < deadline, "array did not finish"
            time.sleep(0.02)
    assert len(recs) == 20 and sorted(r.array_task_id for r in recs) == list(range(20))
    assert {r.array_job_id for r in recs} == {job}
    concurrent = peak = 0
    lines = log.read_text().splitlines()
    assert len(lines) == 40
    for line in lines:
        concurrent += 1 if line.startswith("start") else -1
        peak = max(peak, concurrent)
    assert 1 <= peak <= 4
    assert sampled_max >= 1


def test_dependency_chain_runs_in_order(sim, tmp_path):
    out = tmp_path / "order.txt"
    a = submit(sim, f"sleep 0.2; echo A >> {out}", tmp_path)
    b = submit(sim, f"echo B >> {out}", tmp_path, dependencies=[Dependency("afterok", [str(a)])])
    c = submit(sim, f"echo C >> {out}", tmp_path, dependencies=[Dependency("afterany", [str(b)])])
    last = sim.wait_job(c, 30)
    assert out.read_text() == "A\nB\nC\n"
    first, second = sim.job(a), sim.job(b)
    assert first.end_time <= second.start_time and second.end_time <= last.start_time


def test_walltime_ends_in_timeout(tmp_path):
    # 60 sim seconds = 0.5 real seconds
    with SimCluster(nodes=1, cores_per_node=1, ssh=False, time_scale=120, kill_wait_s=30) as sim:
        job = submit(sim, f"echo $$ > {tmp_path}/pid; sleep 60", tmp_path, time_limit_s=60)
        pid = int(wait_file(tmp_path / "pid"))
        rec = sim.wait_job(job, 30)
        assert (rec.state, rec.reason, rec.exit_signal) == ("TIMEOUT", "TimeLimit", signal.SIGTERM)
        assert rec.end_time - rec.start_time >= 60
        assert_gone([pid])


def test_memory_hog_ends_out_of_memory(sim, tmp_path):
    hog = f"{sys.executable} -c \"import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(60)\""
    job = submit(sim, hog, tmp_path, mem_mb=100)
    rec = sim.wait_job(job, 30)
    assert (rec.state, rec.reason, rec.exit_code, rec.exit_signal) == ("OUT_OF_MEMORY", "OutOfMemory", 0, 125)
    assert rec.max_rss_mb > 100


def test_cancel_kills_the_process_group(sim, tmp_path):
    job = submit(sim, f"sleep 60 & echo $$ $! > {tmp_path}/pids; wait", tmp_path)
    pids = [int(p) for p in wait_file(tmp_path / "pids").split()]
    result = sim.call("signal", {"targets": [{"job_id": job, "task": None}], "signal": None, "uid": 4242},
                      tool="scancel")
    assert result["results"] == [{"job_id": job, "task": None, "status": "ok"}]
    rec = sim.wait_job(job, 20)
    assert (rec.state, rec.cancelled_by_uid, rec.exit_signal) == ("CANCELLED", 4242, signal.SIGTERM)
    assert_gone(pids)
    again = sim.call("signal", {"targets": [{"job_id": job, "task": None}], "signal": None, "uid": 1})
    missing = sim.call("signal", {"targets": [{"job_id": 999999, "task": None}], "signal": None, "uid": 1})
    assert again["results"][0]["status"] == "already_done"
    assert missing["results"][0]["status"] == "invalid_job_id"


def test_cancel_pending_job_and_one_array_task(sim, tmp_path):
    held = submit(sim, "true", tmp_path, hold=True)
    arr = submit(sim, "sleep 30", tmp_path, array_indices=[0, 1, 2], hold=True)
    sim.call("signal", {"targets": [{"job_id": held, "task": None}, {"job_id": arr, "task": 2}],
                        "signal": None, "uid": 7})
    recs = {(r.job_id, r.array_task_id): r for r in sim.jobs()}
    assert recs[(held, None)].state == "CANCELLED" and recs[(held, None)].cancelled_by_uid == 7
    assert [recs[(arr + i, i)].state for i in range(3)] == ["PENDING", "PENDING", "CANCELLED"]


def test_signal_scopes_deliver_to_steps_or_batch(sim, tmp_path):
    script = (f"trap 'echo batch-got-usr1 >> {tmp_path}/log' USR1\n"
              f"{sys.executable} -c \"import signal, time, sys\n"
              f"signal.signal(signal.SIGUSR1, lambda *a: (open('{tmp_path}/log', 'a').write('step-got-usr1\\\\n'), sys.exit(0)))\n"
              f"open('{tmp_path}/ready', 'w').write('1\\\\n')\n"
              "time.sleep(60)\" &\n"
              "wait; wait\n")
    job = submit(sim, script, tmp_path)
    wait_file(tmp_path / "ready")
    sim.call("signal", {"targets": [{"job_id": job, "task": None}], "signal": int(signal.SIGUSR1), "uid": 1})
    assert wait_file(tmp_path / "log") == "step-got-usr1\n"
    rec = sim.wait_job(job, 20)
    assert rec.state == "COMPLETED"
    pending = submit(sim, "true", tmp_path, hold=True)
    res = sim.call("signal", {"targets": [{"job_id": pending, "task": None}], "signal": 10, "uid": 1})
    assert res["results"][0]["status"] == "job_pending"


def test_hold_release_and_requeue(sim, tmp_path):
    runs = tmp_path / "runs"
    job = submit(sim, f"echo run-$SLURM_RESTART_COUNT >> {runs}; sleep 0.2", tmp_path, hold=True)
    rec = sim.job(job)
    assert (rec.state, rec.reason, rec.held) == ("PENDING", "JobHeldUser", True)
    assert sim.call("release", {"job_ids": [job]})["results"][0]["status"] == "ok"
    assert sim.wait_job(job, 20).state == "COMPLETED"
    assert sim.call("hold", {"job_ids": [job]})["results"][0]["status"] == "already_done"
    assert sim.call("requeue", {"job_ids": [job]})["results"][0]["status"] == "ok"
    sim.wait_for(lambda: sim.job(job).restart_count == 1 and sim.job(job).state == "COMPLETED", 20, "rerun")
    assert runs.read_text() == "run-\nrun-1\n"


def test_requeue_running_job_restarts_it(sim, tmp_path):
    job = submit(sim, f"echo $SLURM_RESTART_COUNT >> {tmp_path}/starts; sleep 60", tmp_path)
    wait_file(tmp_path / "starts")
    assert sim.call("requeue", {"job_ids": [job]}, tool="scontrol")["results"][0]["status"] == "ok"
    sim.wait_for(lambda: (tmp_path / "starts").read_text() == "\n1\n", 20, "the second start")
    rec = sim.job(job)
    assert rec.restart_count == 1 and rec.state == "RUNNING"
    no = submit(sim, "sleep 60", tmp_path, requeue=False)
    sim.wait_job(no, 20, states=["RUNNING"])
    assert sim.call("requeue", {"job_ids": [no]})["results"][0]["status"] == "not_requeueable"


def test_finished_jobs_leave_the_queue_after_min_job_age(tmp_path):
    with SimCluster(nodes=1, cores_per_node=1, ssh=False, min_job_age_s=0.3) as sim:
        job = submit(sim, "true", tmp_path)
        sim.wait_job(job, 20)
        sim.wait_for(lambda: not sim.call("jobs", {"job_ids": [job]})["jobs"], 20, "MinJobAge purge")
        assert [r.state for r in sim.jobs([job])] == ["COMPLETED"]
        assert sim.jobs([job])[0].visible_in_queue is False


def test_controller_killed_and_restarted_keeps_accounting_and_queue(tmp_path):
    sim = SimCluster(nodes=1, cores_per_node=2, ssh=False)
    sim.start()
    try:
        done = [submit(sim, f"echo {i}", tmp_path) for i in range(3)]
        for job in done:
            sim.wait_job(job, 20)
        held = submit(sim, "true", tmp_path, hold=True)
        lost = submit(sim, f"echo $$ > {tmp_path}/lost; sleep 60", tmp_path, requeue=False)
        again = submit(sim, f"echo $$ >> {tmp_path}/again; sleep 60", tmp_path)
        lost_pid = int(wait_file(tmp_path / "lost"))
        first_pid = int(wait_file(tmp_path / "again"))
        toolserver = sim.ready_info["toolserver_pid"]
        dead = sim.kill_controller()
        assert_gone([dead, toolserver])  # the tool server follows its controller
        assert pid_alive(lost_pid)  # jobs outlive a crashed controller...
        sim.restart()
        assert_gone([lost_pid, first_pid])  # ...until the new one cleans up
        recs = {r.job_id: r for r in sim.jobs()}
        assert [recs[j].state for j in done] == ["COMPLETED"] * 3
        assert recs[held].state == "PENDING" and recs[held].reason == "JobHeldUser"
        assert recs[lost].state == "NODE_FAIL"
        rec = sim.wait_job(again, 20, states=["RUNNING"])
        assert rec.restart_count == 1
        assert submit(sim, "true", tmp_path) > again  # ids keep counting
        sim.wait_for(lambda: len((tmp_path / "again").read_text().split()) == 2, 20, "the requeued run")
        second_pid = int((tmp_path / "again").read_text().split()[1])
    finally:
        sim.stop()
    assert_gone([second_pid])


def test_stop_kills_running_jobs(tmp_path):
    sim = SimCluster(nodes=1, ssh=False)
    sim.start()
    submit(sim, f"sleep 60 & echo $$ $! > {tmp_path}/pids; wait", tmp_path)
    pids = [int(p) for p in wait_file(tmp_path / "pids").split()]
    root = sim.root
    sim.stop()
    assert_gone(pids)
    assert not os.path.exists(root)


def test_bad_requests_are_refused_with_kinds(sim, tmp_path):
    with pytest.raises(protocol.RequestRefused) as info:
        submit(sim, "true", tmp_path, partition="gpu")
    assert info.value.kind == "invalid_partition" and "Invalid partition" in info.value.message
    with pytest.raises(protocol.RequestRefused) as info:
        submit(sim, "true", tmp_path, mem_mb=10**6)
    assert info.value.kind == "node_config_unavailable"
    with pytest.raises(protocol.RequestRefused) as info:
        sim.call("frobnicate", {})
    assert info.value.kind == "bad_request"
    with pytest.raises(protocol.RequestRefused) as info:
        sim.call("jobs", {"job_ids": "12"})
    assert info.value.kind == "bad_request"


def test_missing_work_dir_runs_in_tmp_with_slurmstepd_error(sim, tmp_path):
    job = submit(sim, "pwd", tmp_path / "missing", stdout_pattern=str(tmp_path / "out.txt"))
    assert sim.wait_job(job, 20).state == "COMPLETED"
    text = (tmp_path / "out.txt").read_text()
    assert "couldn't chdir to" in text and text.endswith("/tmp\n")  # noqa: S108


def test_clean_stop_applies_the_restart_rule(tmp_path):
    root = str(tmp_path / "keep")
    sim = SimCluster(nodes=1, cores_per_node=2, ssh=False, root=root, keep=True)
    sim.start()
    try:
        again = submit(sim, f"echo $$ >> {tmp_path}/runs; sleep 60", tmp_path)
        lost = submit(sim, f"echo $$ >> {tmp_path}/lost; sleep 60", tmp_path, requeue=False)
        pids = [int(wait_file(tmp_path / "runs")), int(wait_file(tmp_path / "lost"))]
    finally:
        sim.stop()
    assert_gone(pids)
    with SimCluster(nodes=1, ssh=False, root=root) as resumed:
        assert resumed.job(lost).state == "NODE_FAIL"
        rec = resumed.wait_job(again, 20, states=["RUNNING"])
        assert rec.restart_count == 1
        resumed.wait_for(lambda: len((tmp_path / "runs").read_text().split()) == 2, 20, "the rerun")
        rerun = int((tmp_path / "runs").read_text().split()[1])
    assert_gone([rerun])


def test_launch_failure_fails_the_job_and_frees_its_node(tmp_path):
    with SimCluster(nodes=1, cores_per_node=1, ssh=False) as sim:
        bad = submit(sim, "true", tmp_path, stdout_pattern=str(tmp_path / "no" / "such" / "dir" / "out"))
        rec = sim.wait_job(bad, 20)
        assert (rec.state, rec.reason, rec.exit_code) == ("FAILED", "JobLaunchFailure", 1)
        assert sim.wait_job(submit(sim, "true", tmp_path), 20).state == "COMPLETED"
