"""The plain ``ssh`` backend end to end: nohup'd runner processes on a host reached over real SSH.

Most tests run twice: through the simulator's SSH server (``ssh``) and through LocalTransport
(``local``: the same launcher and poller with this machine as the host).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import cloudpickle
import pytest
from e2e_env import JOB_ENV

from clustrix.backends.ledger import Ledger
from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import JobFailedError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec
from clustrix.transports.local import LocalTransport

DEADLINE_S = 60

# The job host cannot import this test module: send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(params=["ssh", "local"])
def backend(request, ssh_login, tmp_path):
    if request.param == "ssh":
        profile = Profile.from_mapping(ssh_login.profile_mapping(remote_dir=str(tmp_path / "remote")))
        b = RemoteBackend(profile)
    else:
        profile = Profile.from_mapping(ssh_login.profile_mapping(host="this-machine", remote_dir=str(tmp_path / "remote")))
        b = RemoteBackend(profile, transport=LocalTransport())
    yield b
    b.shutdown(wait=False, cancel_futures=True)


def spec(name: str = "e2e", env=(), **kw) -> JobSpec:
    return JobSpec(name=name, python=sys.executable, env={**JOB_ENV, **dict(env)}, **kw)


def double_and_print(x):
    print("computing", x)
    return 2 * x


class CustomError(Exception):
    pass


def raise_custom(msg):
    raise CustomError(msg)


def test_value_and_stdout(backend):
    fut = backend.submit(Call(double_and_print, (21,), {}), spec())
    assert fut.result(timeout=DEADLINE_S) == 42
    assert fut.stdout() == "computing 21\n"
    assert fut.job_id.isdigit()  # the pid on the host
    entry = Ledger().find(fut.job_id)
    assert entry.state == "COMPLETED" and entry.backend == "ssh"


def test_exception_type_and_remote_traceback(backend):
    fut = backend.submit(Call(raise_custom, ("boom",), {}), spec())
    with pytest.raises(CustomError, match="boom") as info:
        fut.result(timeout=DEADLINE_S)
    assert "raise_custom" in str(info.value.__cause__)


def test_array_results_in_input_order_with_chunks(backend):
    backend.profile = backend.profile  # chunking comes from the profile; use a chunked one below
    from dataclasses import replace

    backend.profile = replace(backend.profile, array_chunk_size=3, max_array_parallel=2)
    futs = backend.submit_array(double_and_print, [((i,), {}) for i in range(8)], spec("arr"))
    assert [f.result(timeout=DEADLINE_S) for f in futs] == [2 * i for i in range(8)]
    assert [f.stdout() for f in futs] == [f"computing {i}\n" for i in range(8)]
    entry = Ledger().find(futs[0].job_id.split("[")[0])
    assert entry.is_array and entry.n_items == 8 and entry.chunk_size == 3 and len(entry.task_ids) == 3
    assert entry.state == "COMPLETED"


def test_cancel_kills_the_process(backend, tmp_path):
    marker = tmp_path / "started"
    fut = backend.submit(Call(_touch_and_sleep, (str(marker), 60), {}), spec())
    _wait_for(marker.exists)
    assert fut.cancel()
    assert fut.cancelled()
    pid = int(fut.job_id)
    _wait_for(lambda: not _alive(pid))
    assert Ledger().find(fut.job_id).state == "CANCELLED"


def test_killed_process_is_a_failure_with_its_stderr(backend, tmp_path):
    marker = tmp_path / "started"
    fut = backend.submit(Call(_touch_and_sleep, (str(marker), 60), {}), spec())
    _wait_for(marker.exists)
    os.killpg(int(fut.job_id), 9)
    with pytest.raises(JobFailedError, match="without writing its exit code"):
        fut.result(timeout=DEADLINE_S)


def test_shell_hostile_values_arrive_verbatim(ssh_login, tmp_path):
    evil = "we ird;$(touch PWNED)'\"`x`"
    remote = tmp_path / evil / "jobs"
    profile = Profile.from_mapping(ssh_login.profile_mapping(remote_dir=str(remote)))
    backend = RemoteBackend(profile)
    try:
        env = (("EVIL", evil),)
        fut = backend.submit(Call(_getenv, ("EVIL",), {}), spec(name=evil, env=env,
                                                                 setup=(f"echo {_q(evil)} > setup.txt",)))
        assert fut.result(timeout=DEADLINE_S) == evil
    finally:
        backend.shutdown()
    job_dirs = [d for d in remote.iterdir() if d.is_dir()]
    assert len(job_dirs) == 1
    assert (job_dirs[0] / "setup.txt").read_text() == evil + "\n"
    assert not list(tmp_path.rglob("PWNED")) and not (ssh_login.home and os.path.exists(os.path.join(ssh_login.home, "PWNED")))


def test_connection_drop_mid_wait_still_returns(ssh_login, tmp_path):
    profile = Profile.from_mapping(ssh_login.profile_mapping(remote_dir=str(tmp_path / "remote")))
    backend = RemoteBackend(profile)
    try:
        marker = tmp_path / "started"
        fut = backend.submit(Call(_touch_and_sleep, (str(marker), 1.0), {}), spec())
        _wait_for(marker.exists)
        ssh_login.server.drop_connections()
        assert fut.result(timeout=DEADLINE_S) == "slept"
    finally:
        backend.shutdown()


def test_reattach_from_a_new_process(ssh_login, tmp_path):
    profile = Profile.from_mapping(ssh_login.profile_mapping(remote_dir=str(tmp_path / "remote")))
    backend = RemoteBackend(profile)
    marker = tmp_path / "started"
    fut = backend.submit(Call(_touch_and_sleep, (str(marker), 1.5), {}), spec())
    single_id = fut.job_id
    arr = backend.submit_array(double_and_print, [((i,), {}) for i in range(3)], spec("arr"))
    array_id = arr[0].job_id.split("[")[0]
    backend.shutdown(wait=False)  # this client "dies" with the jobs still running
    code = textwrap.dedent(f"""
        from clustrix.api.attach import attach
        print(attach({single_id!r}).result(timeout={DEADLINE_S}))
        print(attach({array_id!r}).result(timeout={DEADLINE_S}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_S * 2)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["slept", "[0, 2, 4]"]


# -- helpers (module level, so they travel by reference to the runner) -----------------------------


def _touch_and_sleep(path, seconds):
    open(path, "w").close()
    time.sleep(seconds)
    return "slept"


def _getenv(name):
    return os.environ[name]


def _q(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead for our purposes
        return fh.read().split(")")[-1].split()[0] != "Z"


def _wait_for(predicate, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(0.02)
