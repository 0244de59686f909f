"""The local backend's warm fork server: isolation, environment, fallbacks and failure handling.

The guarantees shared with plain runner subprocesses (values, kills, timeouts, cancel, exit
codes) are checked for both modes in test_local.py; these tests cover what is specific to
forking. Waits poll with deadlines; nothing asserts on durations.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from process_helpers import gone, wait_for_file

from clustrix.backends.local.backend import LocalBackend
from clustrix.backends.local.fork_client import decode_frames, encode, startup_env, supported
from clustrix.config.profile import Profile
from clustrix.errors import JobFailedError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec

pytestmark = pytest.mark.skipif(not supported(), reason="the fork server needs Linux >= 5.3 (os.pidfd_open)")

DEADLINE_S = 60
SPEC = JobSpec(name="fork")
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def backend():
    b = LocalBackend(Profile(max_workers=2), kill_grace_s=1.0)
    yield b
    b.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- job functions


def where_am_i():
    import random

    return {"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "sid": os.getsid(0),
            "cwd": os.getcwd(), "argv1": sys.argv[1], "job_id": os.environ.get("CLUSTRIX_JOB_ID"),
            "custom": os.environ.get("H11_CUSTOM"), "warnoptions": list(sys.warnoptions),
            "cwd_on_path": os.getcwd() in sys.path, "random": random.random()}


def leave_traces():
    """Change process-wide state; a later call must not see any of it."""
    seen = {"env": os.environ.get("H11_LEAK"), "attr": getattr(sys, "h11_leak", None),
            "module": "h11_leaky_module" in sys.modules}
    os.environ["H11_LEAK"] = "1"
    sys.h11_leak = "1"
    sys.modules["h11_leaky_module"] = sys
    return seen


def sleep_writing_pid(pid_file):
    with open(pid_file + ".tmp", "w") as fh:
        fh.write(f"{os.getpid()} {os.getppid()}")
    os.replace(pid_file + ".tmp", pid_file)
    time.sleep(DEADLINE_S)
    return "woke up"


# ---------------------------------------------------------------- tests


def test_frames_round_trip_in_pieces():
    blob = encode({"op": "run", "id": 1, "env": {"A": "b" * 5000}}) + encode({"op": "forget", "id": 2})
    buffer, got = bytearray(), []
    for i in range(0, len(blob), 700):  # a pipe hands data over in arbitrary pieces
        buffer += blob[i : i + 700]
        got += decode_frames(buffer)
    assert got == [{"op": "run", "id": 1, "env": {"A": "b" * 5000}}, {"op": "forget", "id": 2}]
    assert buffer == bytearray()


def test_startup_env_is_what_a_running_interpreter_cannot_change():
    env = {"PYTHONPATH": "/x", "LD_LIBRARY_PATH": "/l", "HOME": "/h", "OMP_NUM_THREADS": "2"}
    assert startup_env(env) == {"PYTHONPATH": "/x", "LD_LIBRARY_PATH": "/l"}


def test_calls_are_forked_children_in_their_own_session_with_their_own_cwd_and_env(backend, tmp_path,
                                                                                 monkeypatch):
    first = backend.submit(Call(where_am_i), SPEC).result(timeout=DEADLINE_S)
    monkeypatch.chdir(tmp_path)  # the working directory is the submitter's at run time
    spec = JobSpec(name="env", env={"H11_CUSTOM": "a b;c"})
    second_future = backend.submit(Call(where_am_i), spec)
    second = second_future.result(timeout=DEADLINE_S)
    server_pid = first["ppid"]
    assert server_pid != os.getpid() and second["ppid"] == server_pid  # both forked by the server
    assert first["pid"] != second["pid"]
    for info in (first, second):
        assert info["pgid"] == info["sid"] == info["pid"]  # own session: killed alone, as a group
    assert second["cwd"] == str(tmp_path) and second["cwd_on_path"]  # as ``python -m`` started there
    assert second["job_id"] == second_future.job_id and second["custom"] == "a b;c"
    assert first["custom"] is None
    assert os.path.basename(second["argv1"]) == second_future.job_id  # the runner's JOB_DIR
    assert first["random"] != second["random"]  # the random module is reseeded in every child


def test_no_call_sees_what_an_earlier_call_changed(backend):
    seen = [backend.submit(Call(leave_traces), SPEC).result(timeout=DEADLINE_S) for _ in range(3)]
    assert seen == [{"env": None, "attr": None, "module": False}] * 3
    assert "H11_LEAK" not in os.environ


def test_startup_variables_that_differ_fall_back_to_a_fresh_interpreter(backend):
    forked = backend.submit(Call(where_am_i), SPEC).result(timeout=DEADLINE_S)
    fresh = backend.submit(Call(where_am_i), JobSpec(name="w", env={"PYTHONWARNINGS": "ignore"}))
    fresh = fresh.result(timeout=DEADLINE_S)
    assert forked["ppid"] != os.getpid() and forked["warnoptions"] == []
    assert fresh["ppid"] == os.getpid() and fresh["warnoptions"] == ["ignore"]  # read at start-up only


def test_fork_server_false_starts_every_call_as_a_subprocess():
    b = LocalBackend(Profile(max_workers=1), fork_server=False)
    try:
        info = b.submit(Call(where_am_i), SPEC).result(timeout=DEADLINE_S)
    finally:
        b.shutdown()
    assert info["ppid"] == os.getpid()


def test_a_dead_server_fails_its_calls_kills_them_and_is_replaced(backend, tmp_path):
    pid_file = str(tmp_path / "pid")
    fut = backend.submit(Call(sleep_writing_pid, (pid_file,)), SPEC)
    job_pid, server_pid = map(int, wait_for_file(pid_file).split())
    os.kill(server_pid, signal.SIGKILL)
    with pytest.raises(JobFailedError) as info:
        fut.result(timeout=DEADLINE_S)
    assert info.value.exit_code == -signal.SIGKILL
    assert gone(job_pid)  # the orphan was killed, not left running
    again = backend.submit(Call(where_am_i), SPEC).result(timeout=DEADLINE_S)
    assert again["ppid"] not in (server_pid, os.getpid())  # a new server forked it


def test_calls_die_with_the_client_even_when_it_is_killed(tmp_path):
    """SIGKILL gives the client no chance to clean up: the server sees its pipe close and kills."""
    pid_file = str(tmp_path / "pid")
    client = tmp_path / "client.py"
    client.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {HERE!r})
        from clustrix.backends.local.backend import LocalBackend
        from clustrix.payload.codec import Call
        from clustrix.config.profile import Profile
        from clustrix.spec import JobSpec
        from test_local_forkserver import sleep_writing_pid
        b = LocalBackend(Profile(max_workers=1))
        b.submit(Call(sleep_writing_pid, ({pid_file!r},)), JobSpec(name="orphan"))
        time.sleep({DEADLINE_S})
    """))
    proc = subprocess.Popen([sys.executable, str(client)], cwd=str(tmp_path))
    try:
        job_pid, server_pid = map(int, wait_for_file(pid_file).split())
        assert server_pid != proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=DEADLINE_S)
    assert gone(job_pid) and gone(server_pid)


def test_shutdown_stops_the_server(tmp_path):
    b = LocalBackend(Profile(max_workers=2))
    infos = [f.result(timeout=DEADLINE_S) for f in [b.submit(Call(where_am_i), SPEC) for _ in range(3)]]
    b.shutdown(wait=True)
    server_pid = infos[0]["ppid"]
    assert server_pid != os.getpid() and gone(server_pid)


def test_a_server_that_cannot_start_is_not_retried(tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "cloudpickle.py").write_text("raise ImportError('broken on purpose')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(broken), os.environ.get("PYTHONPATH", "")]))
    import clustrix.backends.local.backend

    starts = []

    class CountedForkServer(clustrix.backends.local.backend.ForkServer):
        def __init__(self, *args, **kwargs):
            starts.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(clustrix.backends.local.backend, "ForkServer", CountedForkServer)
    b = LocalBackend(Profile(max_workers=1))
    try:
        # os.getppid travels by reference and returns a plain int: the runner never needs cloudpickle.
        parents = [b.submit(Call(os.getppid), SPEC).result(timeout=DEADLINE_S) for _ in range(3)]
    finally:
        b.shutdown()
    assert parents == [os.getpid()] * 3  # every call ran as a plain subprocess of this process
    assert len(starts) == 1  # no new server after the first one died without running a call


def test_leftovers_that_finalization_would_act_on_are_recognised():
    """The fork child skips interpreter teardown only when nothing the call left would notice."""
    script = textwrap.dedent("""
        import gc, sys, weakref
        from clustrix.backends.local.fork_server import _finalizable_leftovers as leftovers
        gc.freeze()  # as the server does: only what is created below is looked at
        out = [leftovers()]
        def gen():
            try:
                yield 1
            finally:
                pass
        keep = []
        for make in (
            lambda: open(sys.argv[1], "w"),                                   # open file
            lambda: next(g := gen()) and g,                                   # suspended generator
            lambda: type("D", (), {"__del__": lambda self: None})(),           # a finalizer
            lambda: (o := type("T", (), {})(), weakref.ref(o, lambda ref: None)),  # user callback
            lambda: (o := type("T", (), {})(), weakref.ref(o, id)),            # C callback: ignored
            lambda: (o := type("S", (), {})(), weakref.WeakSet([o])),          # container: ignored
        ):
            gc.collect()
            gc.freeze()
            keep.append(make())
            out.append(leftovers())
        f = open(sys.argv[1]); f.close(); keep.append(f)
        gc.freeze()
        out.append(leftovers())
        print(out)
    """)
    proc = subprocess.run([sys.executable, "-c", script, os.devnull], capture_output=True, text=True,
                          timeout=DEADLINE_S)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str([False, True, True, True, True, False, False, False])
