"""``clustrix jobs`` from a fresh process, against jobs submitted over real SSH by this one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cloudpickle
import pytest
from e2e_env import JOB_ENV

from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import JobCancelledError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 60
CLI = [os.path.join(os.path.dirname(sys.executable), "clustrix")]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "jobs", *args], capture_output=True, text=True, timeout=DEADLINE_S * 2)


def shout(x):
    print("out", x)
    print("err", x, file=sys.stderr)
    return {"x": x}


def fail(x):
    raise ValueError(f"bad {x}")


def sleepy(s):
    import time

    time.sleep(s)


@pytest.fixture
def backend(ssh_login, tmp_path):
    b = RemoteBackend(Profile.from_mapping(ssh_login.profile_mapping(remote_dir=str(tmp_path / "r"))))
    yield b
    b.shutdown(wait=False, cancel_futures=True)


def test_list_result_logs_status(backend):
    spec = JobSpec(name="cli", python=sys.executable, env=JOB_ENV)
    fut = backend.submit(Call(shout, (7,), {}), spec)
    bad = backend.submit(Call(fail, (1,), {}), spec)
    fut.result(timeout=DEADLINE_S)
    with pytest.raises(ValueError):
        bad.result(timeout=DEADLINE_S)

    listed = cli("list", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["job_id"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert rows[fut.job_id]["state"] == "COMPLETED" and rows[bad.job_id]["state"] == "FAILED"
    assert rows[fut.job_id]["function"].endswith(".shout")

    res = cli("result", fut.job_id, "--json", "--timeout", str(DEADLINE_S))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"x": 7}

    res = cli("result", bad.job_id, "--timeout", str(DEADLINE_S))
    assert res.returncode == 1 and "ValueError: bad 1" in res.stderr

    assert cli("logs", fut.job_id).stdout == "out 7\n"
    assert cli("logs", fut.job_id, "--stderr").stdout == "err 7\n"

    st = cli("status", fut.job_id)
    assert st.returncode == 0, st.stderr
    assert "COMPLETED" in st.stdout and fut.job_id in st.stdout


def test_cancel_from_another_process(backend):
    fut = backend.submit(Call(sleepy, (60,), {}), JobSpec(name="cli", python=sys.executable, env=JOB_ENV))
    out = cli("cancel", fut.job_id)
    assert out.returncode == 0, out.stderr
    assert "cancelled" in out.stdout
    # this client's poller learns it too, as a cancellation (not a crash)
    with pytest.raises(JobCancelledError):
        fut.result(timeout=DEADLINE_S)
    listed = cli("list", "--all", "--json")
    assert {json.loads(r)["job_id"]: json.loads(r)["state"] for r in listed.stdout.splitlines()}[fut.job_id] == "CANCELLED"


def test_unknown_job_is_a_clear_error():
    out = cli("result", "424242")
    assert out.returncode != 0 and "not in the ledger" in out.stderr


def test_a_failed_jobs_result_shows_the_remote_error_once_and_no_cli_frames(backend):
    bad = backend.submit(Call(fail, (3,), {}), JobSpec(name="cli", python=sys.executable))
    with pytest.raises(ValueError):
        bad.result(timeout=DEADLINE_S)
    res = cli("result", bad.job_id, "--timeout", str(DEADLINE_S))
    assert res.returncode == 1
    assert res.stderr.count("ValueError: bad 3") == 1, res.stderr
    assert "in fail" in res.stderr  # the remote frame of the user's function
    assert "clustrix/cli" not in res.stderr and "click" not in res.stderr, res.stderr


def test_status_names_the_profile_and_the_port(backend, ssh_login):
    fut = backend.submit(Call(shout, (1,), {}), JobSpec(name="cli", python=sys.executable))
    fut.result(timeout=DEADLINE_S)
    st = cli("status", fut.job_id, "--no-refresh")
    assert st.returncode == 0, st.stderr
    assert f"on {ssh_login.host}:{ssh_login.port} " in st.stdout
    assert f"profile {backend.profile.name}]" in st.stdout and "profile None" not in st.stdout


def test_array_tasks_in_the_schedulers_own_notation(slurm, tmp_path):
    profile = Profile.from_mapping(slurm.profile(name="sim-cli", remote_dir=str(tmp_path / "jobs")))
    b = RemoteBackend(profile)
    try:
        futs = b.submit_array(shout, [((i,), {}) for i in range(3)], JobSpec(name="cli", python=sys.executable))
        assert [f.result(timeout=DEADLINE_S) for f in futs] == [{"x": 0}, {"x": 1}, {"x": 2}]
        base = futs[0].job_id.split("[")[0]
        task = f"{base}_1"  # SLURM's notation for array task 1
        own = ("--ledger", profile.ledger)  # a simulator keeps its jobs in its own ledger

        res = cli(*own, "result", task, "--json", "--timeout", str(DEADLINE_S))
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"x": 1}
        assert cli(*own, "logs", task).stdout == "out 1\n"
        assert cli(*own, "logs", task, "--task", "2").returncode != 0  # the id and --task disagree
        st = cli(*own, "status", task, "--no-refresh")
        assert st.returncode == 0 and f"task:      1 ({task}): COMPLETED" in st.stdout, st.stdout + st.stderr
        assert "profile sim-cli]" in st.stdout
    finally:
        b.shutdown(wait=False, cancel_futures=True)


def test_a_profile_with_its_own_ledger_keeps_its_jobs_out_of_the_users(ssh_login, tmp_path):
    own = tmp_path / "session-ledger.sqlite3"
    profile = Profile.from_mapping(ssh_login.profile_mapping(remote_dir=str(tmp_path / "r"), ledger=str(own)))
    b = RemoteBackend(profile)
    try:
        fut = b.submit(Call(shout, (5,), {}), JobSpec(name="cli", python=sys.executable))
        fut.result(timeout=DEADLINE_S)
    finally:
        b.shutdown(wait=False)
    users = cli("list", "--all", "--json")
    assert fut.job_id not in {json.loads(r)["job_id"] for r in users.stdout.splitlines()}
    session = cli("--ledger", str(own), "list", "--all", "--json")
    assert session.returncode == 0, session.stderr
    assert [json.loads(r)["job_id"] for r in session.stdout.splitlines()] == [fut.job_id]
    res = cli("--ledger", str(own), "result", fut.job_id, "--json")
    assert json.loads(res.stdout) == {"x": 5}


def test_simulator_jobs_stay_out_of_the_users_ledger(slurm, tmp_path):
    profile = Profile.from_mapping(slurm.profile(name="sim-own", remote_dir=str(tmp_path / "jobs")))
    assert profile.ledger is not None and profile.ledger.startswith(slurm.root)
    b = RemoteBackend(profile)
    try:
        fut = b.submit(Call(shout, (4,), {}), JobSpec(name="cli", python=sys.executable))
        fut.result(timeout=DEADLINE_S)
    finally:
        b.shutdown(wait=False)
    users = cli("list", "--all", "--json")
    assert fut.job_id not in {json.loads(r)["job_id"] for r in users.stdout.splitlines()}
    ours = cli("--ledger", profile.ledger, "list", "--all", "--json")
    assert fut.job_id in {json.loads(r)["job_id"] for r in ours.stdout.splitlines()}
