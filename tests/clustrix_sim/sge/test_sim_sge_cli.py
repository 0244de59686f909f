"""``clustrix-sim up --scheduler sge`` as a user runs it: Grid Engine's tools on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
import time

CLI = [sys.executable, "-m", "clustrix_sim.cli"]


def test_up_sge_answers_qsub_qstat_and_qacct(tmp_path):
    state_dir = str(tmp_path / "state")
    proc = subprocess.Popen([*CLI, "up", "--scheduler", "sge", "--state-dir", state_dir, "--nodes", "1",
                             "--cores-per-node", "2", "--no-ssh"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        banner = b""
        deadline = time.monotonic() + 60
        while b"Local mode" not in banner:
            assert proc.poll() is None, f"up exited early: {banner!r} {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, f"up did not print its banner: {banner!r}"
            banner += os.read(proc.stdout.fileno(), 65536)
        assert b"sge cluster" in banner
        shell = (f'eval "$({" ".join(CLI)} env --state-dir {state_dir})"; cd {tmp_path}; '
                 "j=$(qsub -terse -cwd -b y -N hello 'echo hi'); "
                 'until qacct -j $j >/dev/null 2>&1; do sleep 0.05; done; qstat; qacct -j $j; qstat -f; cat hello.o$j')
        done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "jobname      hello" in done.stdout and "exit_status  0" in done.stdout
        assert "all.q@c1" in done.stdout and done.stdout.endswith("hi\n")
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
