"""LocalBackend in process mode: real runner processes, real kills, real files.

Every test runs twice: with calls forked by the warm fork server (the default on Linux) and
with plain runner subprocesses (``fork_server=False``); both must keep the same guarantees.

Nothing here asserts on durations; waits that depend on another process poll a file with a
deadline, and every ``result()`` has a timeout.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest
from process_helpers import gone, wait_for_file

from clustrix.backends.base import Backend
from clustrix.backends.local.backend import LocalBackend
from clustrix.config.profile import Profile
from clustrix.errors import JobCancelledError, JobFailedError, JobTimeoutError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec, Resources
from clustrix.states import JobState

DEADLINE_S = 60
SPEC = JobSpec(name="test")


def limited(seconds):
    return JobSpec(name="limited", resources=Resources(time_s=seconds))


@pytest.fixture(params=[True, False], ids=["forked", "subprocess"])
def fork_server(request):
    return request.param


@pytest.fixture
def backend(fork_server):
    b = LocalBackend(Profile(max_workers=2), kill_grace_s=1.0, fork_server=fork_server)
    yield b
    b.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- job functions (run in workers)


def square(x):
    print("squaring", x)
    print("note", x, file=sys.stderr)
    return x * x


def raise_key_error():
    raise KeyError("x")


class CustomError(Exception):
    pass


def raise_custom(msg):
    raise CustomError(msg)


def sleep_with_pid(pid_file, seconds=60, ignore_term=False, child=False):
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pids = [os.getpid()]
    if child:
        import subprocess

        pids.append(subprocess.Popen(["sleep", str(seconds)]).pid)
    with open(pid_file + ".tmp", "w") as fh:
        fh.write(" ".join(map(str, pids)))
    os.replace(pid_file + ".tmp", pid_file)
    time.sleep(seconds)
    return "woke up"


def count_running(run_dir, index, hold_s):
    """Register as running, count who else is, hold the slot a little, unregister."""
    mine = os.path.join(run_dir, f"running-{index}")
    open(mine, "w").close()
    seen = len(os.listdir(run_dir))
    time.sleep(hold_s)
    os.unlink(mine)
    return seen


def wait_for_release(release_file, started_file):
    open(started_file, "w").close()
    end = time.monotonic() + DEADLINE_S
    while not os.path.exists(release_file):
        if time.monotonic() > end:
            raise TimeoutError("never released")
        time.sleep(0.02)
    return "released"


def touch(path):
    open(path, "w").close()
    return path


def crash(how):
    print("about to crash", file=sys.stderr, flush=True)
    if how == "exit":
        os._exit(3)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    import ctypes

    ctypes.string_at(0)  # segfault


def job_environment():
    job_dir = sys.argv[1]  # the runner's JOB_DIR argument
    key_file = sys.argv[sys.argv.index("--key-file") + 1]
    return {
        "job_dir_mode": stat.S_IMODE(os.stat(job_dir).st_mode),
        "key_mode": stat.S_IMODE(os.stat(key_file).st_mode),
        "key_outside_job_dir": not key_file.startswith(job_dir + os.sep),
        "job_id": os.environ.get("CLUSTRIX_JOB_ID"),
        "custom": os.environ.get("H3_CUSTOM"),
        "from_setup": os.environ.get("H3_FROM_SETUP"),
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }


def exit_work_later(marker_dir):
    """Leave work for interpreter exit: an atexit handler and a non-daemon thread."""
    import atexit
    import threading

    atexit.register(lambda: open(os.path.join(marker_dir, "atexit"), "w").close())

    def late():
        time.sleep(0.2)
        open(os.path.join(marker_dir, "thread"), "w").close()

    threading.Thread(target=late).start()
    return "returned"


def by_value(source, name):
    """A function cloudpickle sends by value (as if defined in a script): no module to import."""
    namespace = {"__name__": "__main__"}
    exec(textwrap.dedent(source), namespace)  # noqa: S102 - test code, written right here
    return namespace[name]


LEAVE_FILE_OPEN = by_value("""
    def leave_file_open(path):
        import sys
        fh = open(path, "w")
        fh.write("kept")  # buffered: only finalizing the file object writes it
        sys.h11_left_open = fh
        return "returned"
""", "leave_file_open")


# ---------------------------------------------------------------- tests


def test_is_a_backend_and_returns_values_with_output(backend):
    assert isinstance(backend, Backend)
    futs = [backend.submit(Call(square, (i,)), SPEC) for i in range(4)]
    assert [f.result(timeout=DEADLINE_S) for f in futs] == [0, 1, 4, 9]
    assert [f.job_id for f in futs] == ["local-1", "local-2", "local-3", "local-4"]
    assert futs[2].stdout() == "squaring 2\n" and futs[2].stderr() == "note 2\n"
    assert futs[0].status.state == JobState.COMPLETED
    assert futs[0].envelope.pid != os.getpid()


def test_key_error_keeps_type_and_remote_traceback(backend):
    fut = backend.submit(Call(raise_key_error), SPEC)
    with pytest.raises(KeyError) as info:
        fut.result(timeout=DEADLINE_S)
    exc = info.value
    assert exc.args == ("x",)
    assert "in raise_key_error" in str(exc.__cause__) and "KeyError: 'x'" in str(exc.__cause__)
    if sys.version_info >= (3, 11):
        assert any(n.startswith("Remote traceback:") and "raise_key_error" in n for n in exc.__notes__)
    assert fut.status.state == JobState.FAILED


def test_custom_exception_type_and_lambdas(backend):
    with pytest.raises(CustomError, match="custom message"):
        backend.submit(Call(raise_custom, ("custom message",)), SPEC).result(timeout=DEADLINE_S)
    offset = 5
    assert backend.submit(Call(lambda v: v + offset, (1,)), SPEC).result(timeout=DEADLINE_S) == 6


def test_submit_array_one_future_per_item(backend):
    futs = backend.submit_array(square, [((i,), {}) for i in range(3)], SPEC)
    assert [f.result(timeout=DEADLINE_S) for f in futs] == [0, 1, 4]
    assert [f.job_id for f in futs] == ["local-1_0", "local-1_1", "local-1_2"]
    assert futs[1].stdout() == "squaring 1\n"
    assert [f.result(timeout=DEADLINE_S) for f in cf.as_completed(futs, timeout=DEADLINE_S)]


def test_concurrency_cap_is_respected(tmp_path, fork_server):
    run_dir = tmp_path / "running"
    run_dir.mkdir()
    b = LocalBackend(Profile(max_workers=2), fork_server=fork_server)
    try:
        futs = [b.submit(Call(count_running, (str(run_dir), i, 0.3)), SPEC) for i in range(6)]
        seen = [f.result(timeout=DEADLINE_S) for f in futs]
    finally:
        b.shutdown()
    assert all(1 <= n <= 2 for n in seen), seen


def timed_out_after_starting(backend, pid_file, **kwargs):
    """Run ``sleep_with_pid`` under a time limit it exceeds, once it has really started.

    On a loaded machine a worker may need longer than a short limit just to start, and the limit
    then kills it before it wrote its pid file (or began ignoring SIGTERM) — not what these tests
    are about. So the limit doubles until the job was seen started before the kill.
    """
    for seconds in (1, 2, 4, 8, 16, 32):
        if os.path.exists(pid_file):
            os.unlink(pid_file)
        fut = backend.submit(Call(sleep_with_pid, (pid_file,), kwargs), limited(seconds))
        with pytest.raises(JobTimeoutError, match=f"time limit of {seconds} s") as info:
            fut.result(timeout=DEADLINE_S + seconds)
        if os.path.exists(pid_file):
            pids = [int(p) for p in open(pid_file).read().split()]
            return fut, info.value, pids
    pytest.fail("the job never started within a 32 s time limit")


def test_timeout_kills_the_process_and_its_children(tmp_path, backend):
    fut, error, pids = timed_out_after_starting(backend, str(tmp_path / "pid"), child=True)
    assert error.exit_code == -signal.SIGTERM
    assert fut.status.state == JobState.TIMEOUT
    assert len(pids) == 2 and all(gone(pid) for pid in pids)


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path, backend):
    _fut, error, (pid,) = timed_out_after_starting(backend, str(tmp_path / "pid"), ignore_term=True)
    assert error.exit_code == -signal.SIGKILL
    assert gone(pid)


def test_cancel_running_job_kills_it(tmp_path, backend):
    pid_file = str(tmp_path / "pid")
    fut = backend.submit(Call(sleep_with_pid, (pid_file,)), SPEC)
    (pid,) = [int(p) for p in wait_for_file(pid_file).split()]
    assert fut.running()
    assert fut.cancel() is True
    assert fut.cancelled() and fut.status.state == JobState.CANCELLED
    with pytest.raises(JobCancelledError):
        fut.result(timeout=DEADLINE_S)
    with pytest.raises(cf.CancelledError):
        fut.result(timeout=DEADLINE_S)
    assert gone(pid)


def test_cancel_queued_job_never_runs(tmp_path, fork_server):
    b = LocalBackend(Profile(max_workers=1), fork_server=fork_server)
    release, started, marker = (str(tmp_path / n) for n in ("release", "started", "marker"))
    try:
        first = b.submit(Call(wait_for_release, (release, started)), SPEC)
        second = b.submit(Call(touch, (marker,)), SPEC)
        wait_for_file(started)
        assert second.status.state == JobState.PENDING and not second.running()
        assert second.cancel() is True and second.cancelled()
        open(release, "w").close()
        assert first.result(timeout=DEADLINE_S) == "released"
        third = b.submit(Call(touch, (str(tmp_path / "third"),)), SPEC)
        third.result(timeout=DEADLINE_S)  # the slot freed after `first` was not taken by `second`
    finally:
        b.shutdown()
    assert not os.path.exists(marker)
    with pytest.raises(JobCancelledError):
        second.result(timeout=DEADLINE_S)


@pytest.mark.parametrize("how,code", [("exit", 3), ("kill", -signal.SIGKILL), ("segv", -signal.SIGSEGV)])
def test_worker_dying_without_result_is_job_failed(backend, how, code):
    fut = backend.submit(Call(crash, (how,)), SPEC)
    with pytest.raises(JobFailedError) as info:
        fut.result(timeout=DEADLINE_S)
    assert info.value.exit_code == code
    assert "about to crash" in info.value.stderr_tail and "about to crash" in str(info.value)
    if code < 0:
        assert signal.Signals(-code).name in str(info.value)
    assert fut.status.state == JobState.FAILED
    assert "about to crash" in fut.stderr()


def test_job_environment_dirs_keys_env_and_setup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = JobSpec(name="env", env={"H3_CUSTOM": "a b;c"}, setup=("export H3_FROM_SETUP=yes",))
    b = LocalBackend(Profile(max_workers=1))
    try:
        info = b.submit(Call(job_environment), spec).result(timeout=DEADLINE_S)
    finally:
        b.shutdown()
    assert info["job_dir_mode"] == 0o700 and info["key_mode"] == 0o600 and info["key_outside_job_dir"]
    assert info["job_id"] == "local-1" and info["custom"] == "a b;c" and info["from_setup"] == "yes"
    assert info["cwd"] == str(tmp_path)
    assert not os.path.exists(b._base)  # temporary files removed at shutdown


def test_unpicklable_argument_fails_at_submit(backend):
    import threading

    with pytest.raises(TypeError, match="lock"):
        backend.submit(Call(square, (threading.Lock(),)), SPEC)


def test_shutdown_cancels_queued_and_refuses_new_work(tmp_path, fork_server):
    b = LocalBackend(Profile(max_workers=1), fork_server=fork_server)
    release, started = str(tmp_path / "release"), str(tmp_path / "started")
    first = b.submit(Call(wait_for_release, (release, started)), SPEC)
    queued = [b.submit(Call(touch, (str(tmp_path / f"q{i}"),)), SPEC) for i in range(3)]
    wait_for_file(started)
    b.shutdown(wait=False, cancel_futures=True)
    assert all(q.cancelled() for q in queued)
    with pytest.raises(RuntimeError, match="after shutdown"):
        b.submit(Call(square, (1,)), SPEC)
    open(release, "w").close()
    assert first.result(timeout=DEADLINE_S) == "released"
    b.shutdown(wait=True)
    assert not any(os.path.exists(tmp_path / f"q{i}") for i in range(3))


def test_the_call_process_exits_like_an_interpreter(tmp_path, backend):
    """Non-daemon threads are joined and atexit handlers run before the call's process exits."""
    assert backend.submit(Call(exit_work_later, (str(tmp_path),)), SPEC).result(timeout=DEADLINE_S) == "returned"
    # The future resolves after the process has exited, so both are done by now.
    assert (tmp_path / "atexit").exists() and (tmp_path / "thread").exists()


def test_a_file_left_open_is_flushed_when_the_call_process_exits(tmp_path, backend):
    path = tmp_path / "left-open"
    assert backend.submit(Call(LEAVE_FILE_OPEN, (str(path),)), SPEC).result(timeout=DEADLINE_S) == "returned"
    assert path.read_text() == "kept"


def test_calls_get_the_directory_that_holds_the_clustrix_package_on_their_path():
    """Where clustrix is not installed (a checkout on sys.path), calls still find the runner."""
    from clustrix.backends.local.backend import CLUSTRIX_ROOT

    assert os.path.isfile(os.path.join(CLUSTRIX_ROOT, "clustrix", "runner.py"))


def test_a_process_that_survives_sigkill_does_not_hang_the_kill(monkeypatch):
    """Only a process in uninterruptible sleep outlives SIGKILL; the kill reports and moves on."""
    from clustrix.backends.local import backend as local_backend

    class StuckInTheKernel:  # the Popen seam: what wait() does for such a process
        pid = 2**22 + 1

        def wait(self, timeout=None):
            assert timeout is not None, "waited on a process without a deadline"
            raise subprocess.TimeoutExpired("stuck", timeout)

    monkeypatch.setattr(local_backend, "REAP_AFTER_SIGKILL_S", 0.01)
    monkeypatch.setattr(local_backend, "signal_group", lambda proc, sig: None)
    backend = LocalBackend(kill_grace_s=0.01)
    try:
        assert backend._kill(StuckInTheKernel()) == -signal.SIGKILL
    finally:
        backend.shutdown()
