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
