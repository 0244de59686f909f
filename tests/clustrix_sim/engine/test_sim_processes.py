"""Process helpers: spawning a script like slurmd, measuring and killing a job's session."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from clustrix_sim.engine import processes
from clustrix_sim.engine.job_lifecycle import parse_signal_option


def wait_until(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.parametrize("text, expected", [
    ("USR2@90", (signal.SIGUSR2, 90.0, "steps")),
    ("B:TERM@5", (signal.SIGTERM, 5.0, "batch")),
    ("R:10", (10, 60.0, "steps")),
    ("SIGUSR1", (signal.SIGUSR1, 60.0, "steps")),
    ("NOPE", None),
    (None, None),
])
def test_parse_signal_option(text, expected):
    assert parse_signal_option(text) == expected


def test_interpreter_argv():
    assert processes.interpreter_argv("#!/bin/sh\n", "/s") == ["/bin/sh", "/s"]
    assert processes.interpreter_argv("#! /usr/bin/env python3 -u\nx\n", "/s") == ["/usr/bin/env", "python3 -u", "/s"]
    assert processes.interpreter_argv("echo hi\n", "/s") == ["/bin/bash", "/s"]


def test_spawn_runs_in_own_session_with_outputs(tmp_path):
    proc = processes.spawn(job_id=7, script="#!/bin/sh\necho out; echo err >&2; echo \"$1 $X\"\n",
                          script_args=["arg"], spool_dir=str(tmp_path / "spool"), work_dir=str(tmp_path),
                          env={"X": "y"}, stdout_path=str(tmp_path / "o"), stderr_path=str(tmp_path / "e"),
                          append=False)
    assert proc.wait(10) == 0
    assert (tmp_path / "o").read_text() == "out\narg y\n"
    assert (tmp_path / "e").read_text() == "err\n"
    script = tmp_path / "spool" / "job7" / "slurm_script"
    assert oct(script.stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "spool" / "job7").stat().st_mode & 0o777) == "0o700"


def test_spawn_append_and_unwritable_output(tmp_path):
    out = tmp_path / "o"
    for _ in range(2):
        processes.spawn(job_id=1, script="#!/bin/sh\necho x\n", script_args=[], spool_dir=str(tmp_path),
                       work_dir=str(tmp_path), env={}, stdout_path=str(out), stderr_path=str(out),
                       append=True).wait(10)
    assert out.read_text() == "x\nx\n"
    with pytest.raises(processes.LaunchError, match="Could not open stdout"):
        processes.spawn(job_id=2, script="#!/bin/sh\n", script_args=[], spool_dir=str(tmp_path),
                       work_dir=str(tmp_path), env={}, stdout_path=str(tmp_path / "no" / "o"),
                       stderr_path=str(tmp_path / "e"), append=False)
    with pytest.raises(processes.LaunchError, match="execve"):
        processes.spawn(job_id=3, script="#!/no/such/interpreter\n", script_args=[], spool_dir=str(tmp_path),
                       work_dir=str(tmp_path), env={}, stdout_path=str(tmp_path / "o3"),
                       stderr_path=str(tmp_path / "o3"), append=False)
    assert "execve()" in (tmp_path / "o3").read_text()


def test_rss_and_kill_session_reach_grandchildren(tmp_path):
    body = (f"#!/bin/sh\n{sys.executable} -c \"b = bytearray(64 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
            f"open('{tmp_path}/ready', 'w').write('1'); import time; time.sleep(60)\" &\nwait\n")
    mark = processes.pid_mark()
    proc = processes.spawn(job_id=1, script=body, script_args=[], spool_dir=str(tmp_path), work_dir=str(tmp_path),
                          env=dict(os.environ), stdout_path=os.devnull, stderr_path=os.devnull, append=False)
    try:
        wait_until(lambda: (tmp_path / "ready").exists())
        assert processes.read_proc(proc.pid).session == proc.pid
        assert processes.rss_by_session({proc.pid})[proc.pid] > 64 * 1024
        if mark is not None:  # only the pids created since the mark are read, and they suffice
            assert processes.rss_by_session({proc.pid}, since=mark)[proc.pid] > 64 * 1024
        members = [p.pid for p in processes.session_members(proc.pid)]
        assert proc.pid in members and len(members) == 2
        assert processes.kill_session(proc.pid) >= 1
        assert proc.wait(10) == -signal.SIGKILL
        wait_until(lambda: not any(processes.pid_alive(p) for p in members))
    finally:
        processes.kill_session(proc.pid)
        proc.wait(10)


def test_kill_session_with_start_ticks_skips_older_processes():
    me = processes.read_proc(os.getpid())
    # our own session started before "now + 1 tick": nothing may be killed
    assert processes.kill_session(me.session, min_start_ticks=me.start_ticks + 10**9) == 0
    assert processes.pid_alive(os.getpid())


def test_kill_session_since_a_pid_mark_finds_a_straggler_outside_the_group(tmp_path):
    # The script's child leaves the job's process group (as srun's steps and `set -m` jobs do)
    # but stays in its session; the job leader exits; the reap kills the straggler all the same.
    mark = processes.pid_mark()
    if mark is None:
        pytest.skip("this kernel has no /proc/sys/kernel/ns_last_pid")
    body = (f"#!/bin/sh\n{sys.executable} -c \"import os, time; os.setpgid(0, 0); "
            f"open('{tmp_path}/pid', 'w').write(str(os.getpid())); time.sleep(60)\" &\n"
            f"while [ ! -s {tmp_path}/pid ]; do sleep 0.01; done\n")
    proc = processes.spawn(job_id=1, script=body, script_args=[], spool_dir=str(tmp_path), work_dir=str(tmp_path),
                          env=dict(os.environ), stdout_path=os.devnull, stderr_path=os.devnull, append=False)
    assert proc.wait(30) == 0
    straggler = int((tmp_path / "pid").read_text())
    try:
        info = processes.read_proc(straggler)
        assert info.session == proc.pid and info.pgrp == straggler  # outside the leader's group
        assert straggler in processes.pids_since(mark)
        assert os.getpid() not in processes.pids_since(mark)  # older than the mark
        assert processes.kill_session(proc.pid, since=mark) == 1
        wait_until(lambda: not processes.pid_alive(straggler))
    finally:
        processes.kill_session(proc.pid)


def test_a_pid_mark_too_old_to_trust_means_a_full_scan():
    mark = processes.pid_mark()
    if mark is None:
        pytest.skip("this kernel has no /proc/sys/kernel/ns_last_pid")
    old = processes.PidMark(mark.last_pid, mark.at_s - 3600.0)  # an hour: the counter may have wrapped
    assert processes.pids_since(old) is None
    me = processes.read_proc(os.getpid())
    assert os.getpid() in [p.pid for p in processes.session_members(me.session, since=old)]
