"""``clustrix-sim up --scheduler pbs|torque``: a PBS cluster in the foreground, its tools on PATH."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest

CLI = [sys.executable, "-m", "clustrix_sim.cli"]


def start_up(state_dir: str, scheduler: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([*CLI, "up", "--scheduler", scheduler, "--state-dir", state_dir, "--nodes", "1",
                             "--no-ssh"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = ""
    deadline = time.monotonic() + 30
    try:
        while "stops it." not in text:
            assert proc.poll() is None, f"up exited early: {text}{proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, f"up did not print its banner: {text!r}"
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                text += os.read(proc.stdout.fileno(), 65536).decode()
    except BaseException:
        proc.kill()
        proc.wait(15)
        raise
    return proc, text


@pytest.mark.parametrize("scheduler, server, queue", [("pbs", "pbs-server", "workq"),
                                                      ("torque", "torque-server", "batch")])
def test_up_runs_a_pbs_cluster(tmp_path, scheduler, server, queue):
    state_dir = str(tmp_path / "s")
    proc, banner = start_up(state_dir, scheduler)
    try:
        assert banner.startswith(f"clustrix-sim: {scheduler} cluster")
        shell = (f'eval "$({" ".join(CLI)} env --state-dir {state_dir})"; cd {tmp_path}; '
                 'echo "#!/bin/bash" | qsub -h && qstat -f | grep -E "^Job Id|queue ="')
        out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == [f"1.{server}", f"Job Id: 1.{server}", f"    queue = {queue}"]
    finally:
        subprocess.run([*CLI, "down", "--state-dir", state_dir], capture_output=True, timeout=60, check=False)
        assert proc.wait(30) == 0
