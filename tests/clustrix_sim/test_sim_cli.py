"""``clustrix-sim up/env/status/down`` as a user runs them (real processes)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from clustrix_sim.cli import default_state_dir
from clustrix_sim.engine.processes import pid_alive

CLI = [sys.executable, "-m", "clustrix_sim.cli"]


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def start_up(state_dir: str, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([*CLI, "up", "--state-dir", state_dir, "--nodes", "1", "--cores-per-node", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = ""
    deadline = time.monotonic() + 30
    try:
        while "stops it." not in text:
            assert proc.poll() is None, f"up exited early: {text}{proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, f"up did not print its banner: {text!r}"
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:  # os.read: a buffered readline would hide lines from select()
                text += os.read(proc.stdout.fileno(), 65536).decode()
    except BaseException:
        proc.terminate()  # never leave a cluster running behind a failed test
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)
        raise
    return proc, text


@pytest.fixture
def state_dir():
    root = tempfile.mkdtemp(prefix="csim-cli-")
    yield os.path.join(root, "s")
    shutil.rmtree(root, ignore_errors=True)


def test_up_env_status_down_and_resume(state_dir, tmp_path):
    proc, banner = start_up(state_dir, "--no-ssh")
    try:
        assert f"in {state_dir}" in banner and "clustrix-sim env --state-dir" in banner
        env_out = run_cli("env", "--state-dir", state_dir)
        assert env_out.returncode == 0
        lines = env_out.stdout.splitlines()
        assert lines[0].startswith("export PATH=") and lines[1].startswith("export CLUSTRIX_SIM_SOCKET=")
        shell = f'eval "$({" ".join(CLI)} env --state-dir {state_dir})"; cd {tmp_path}; sbatch --parsable --wrap true'
        submitted = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60, check=False)
        assert submitted.returncode == 0, submitted.stderr
        job = submitted.stdout.strip()
        status = run_cli("status", "--state-dir", state_dir)
        assert status.returncode == 0
        assert "c1" in status.stdout and "jobs: 1" in status.stdout
        down = run_cli("down", "--state-dir", state_dir)
        assert down.returncode == 0, down.stderr
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    stopped = run_cli("env", "--state-dir", state_dir)
    assert stopped.returncode != 0 and "not running" in stopped.stderr
    proc, banner = start_up(state_dir, "--no-ssh")
    try:
        assert "resumed from" in banner
        shell = f'eval "$({" ".join(CLI)} env --state-dir {state_dir})"; sacct -X -n -P -o JobID -j {job}'
        acct = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60, check=False)
        assert acct.stdout == f"{job}\n"
    finally:
        proc.terminate()  # SIGTERM works like Ctrl-C
        assert proc.wait(30) == 0


def test_up_with_ssh_prints_how_to_connect(state_dir):
    proc, banner = start_up(state_dir)
    try:
        assert "ssh -p " in banner and "UserKnownHostsFile=" in banner
        assert "profiles:\n  sim:\n    backend: \"slurm\"\n    host: \"127.0.0.1\"" in banner
        assert "host_key_policy: \"strict\"" in banner
        import yaml

        from clustrix.config.profile import Profile

        block = banner[banner.index("profiles:"):].split("\n\n")[0]
        profile = Profile.from_mapping(yaml.safe_load(block)["profiles"]["sim"], name="sim")
        assert profile.backend == "slurm" and profile.port > 0 and os.path.exists(profile.key_file)
        # The cluster's own ledger (its jobs die with it) and the site's array limit.
        assert profile.ledger == os.path.join(str(state_dir), "ledger.sqlite3")
        assert profile.max_array_size == 1001
    finally:
        proc.send_signal(2)
        assert proc.wait(30) == 0
    assert not pid_alive(proc.pid)


def test_errors_name_the_fix(state_dir):
    missing = run_cli("status", "--state-dir", state_dir)
    assert missing.returncode != 0 and "clustrix-sim up --state-dir" in missing.stderr
    bad = run_cli("up", "--state-dir", state_dir, "--mem-per-node", "lots")
    assert bad.returncode != 0 and "invalid memory size 'lots'" in bad.stderr


def test_default_state_dir_follows_xdg(monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", "/x/state")
    assert default_state_dir() == "/x/state/clustrix-sim/default"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_dir() == os.path.expanduser("~/.local/state/clustrix-sim/default")
