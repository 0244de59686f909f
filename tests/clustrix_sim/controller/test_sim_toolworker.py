"""The tool server's workers: many calls each, nothing carried between them, signals by wire."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from clustrix_sim import SimCluster
from clustrix_sim.controller import toolserver
from clustrix_sim.engine.processes import all_procs, pid_alive

HEADER = struct.Struct("!I")

# One worker, no server: every call is served by the same process, which exits after CALLS.
WORKER_HARNESS = textwrap.dedent("""
    import os, socket, sys
    from clustrix_sim.controller import toolserver, toolworker
    sock_path, calls = sys.argv[1], int(sys.argv[2])
    table = toolserver.preload("slurm")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(8)
    listener.setblocking(False)
    retire_r, _retire_w = os.pipe()
    _state_r, state_w = os.pipe()
    print("ready", flush=True)
    toolworker.work(listener, retire_r, state_w, [], "slurm", table, calls)
""")


@pytest.fixture(scope="module")
def sim():
    with SimCluster(nodes=1, cores_per_node=2, ssh=False) as cluster:
        yield cluster


def start_worker(tmp_path, calls: int) -> tuple[subprocess.Popen, str]:
    sock = str(tmp_path / "worker.sock")
    proc = subprocess.Popen([sys.executable, "-c", WORKER_HARNESS, sock, str(calls)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc, sock


def call(sock: str, tool: str, argv: list[str], cwd: str, env: dict[str, str]) -> tuple[int, int, str, str]:
    """One call on the wire, with pipes for stdout/stderr: (worker pid, rc, stdout, stderr).

    The pipes are read to EOF without blocking once the exit code is in: the worker must have
    handed the descriptors back before reporting."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, open(os.devnull, "rb") as null:
        conn.settimeout(60)
        conn.connect(sock)
        data = toolserver.encode_request("slurm", tool, argv, cwd, 0o022,
                                         {k.encode(): v.encode() for k, v in env.items()})
        conn.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("3i", null.fileno(), out_w, err_w))])
        os.close(out_w)
        os.close(err_w)
        pid = HEADER.unpack(conn.recv(4, socket.MSG_WAITALL))[0]
        rc = HEADER.unpack(conn.recv(4, socket.MSG_WAITALL))[0]
    texts = []
    for fd in (out_r, err_r):
        os.set_blocking(fd, False)
        chunks = []
        while chunk := os.read(fd, 65536):  # BlockingIOError here: the worker still held the pipe
            chunks.append(chunk)
        os.close(fd)
        texts.append(b"".join(chunks).decode())
    return pid, rc, texts[0], texts[1]


def test_one_worker_serves_calls_that_see_only_their_own_environment_and_directory(sim, tmp_path):
    proc, sock = start_worker(tmp_path, calls=3)
    try:
        first, second = tmp_path / "first", tmp_path / "second"
        first.mkdir()
        second.mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTRIX_T_")} | sim.env()
        job = 'echo "${CLUSTRIX_T_ONLY_FIRST-unset} $(pwd)" > seen.txt'
        results = [call(sock, "sbatch", ["--parsable", "--wrap", job], str(first),
                        {**base, "CLUSTRIX_T_ONLY_FIRST": "set"}),
                   call(sock, "sbatch", ["--parsable", "--wrap", job], str(second), base)]
        for _, rc, out, err in results:
            assert rc == 0, err
            assert sim.wait_job(int(out), 30).state == "COMPLETED"
        assert results[0][0] == results[1][0] == proc.pid  # the same process served both
        assert (first / "seen.txt").read_text() == f"set {first}\n"
        assert (second / "seen.txt").read_text() == f"unset {second}\n"
        pid, rc, out, err = call(sock, "sbatch", ["--version"], str(tmp_path), base)
        assert (pid, rc, out, err) == (proc.pid, 0, "slurm 22.05.8\n", "")
        assert proc.wait(30) == 0  # its third call was its last
    finally:
        proc.kill()
        proc.wait()


def test_a_failing_call_leaves_the_worker_serving(sim, tmp_path):
    proc, sock = start_worker(tmp_path, calls=2)
    try:
        env = {**os.environ, **sim.env()}
        pid, rc, out, err = call(sock, "sbatch", ["--no-such-option"], str(tmp_path), env)
        assert rc == 255 and "unrecognized option '--no-such-option'" in err and out == ""
        assert call(sock, "sbatch", ["--version"], str(tmp_path), env)[:3] == (pid, 0, "slurm 22.05.8\n")
    finally:
        proc.kill()
        proc.wait()


def tool_clients(cluster: SimCluster, tool: str) -> list[str]:
    """The tool as the cluster's bin/ has it, and its Python script when bin/ holds the C client."""
    paths = [os.path.join(cluster.bin_dir, tool)]
    script = os.path.join(cluster.state_dir, "tools-py", tool)
    return paths + ([script] if os.path.exists(script) else [])


def server_children(cluster: SimCluster) -> set[int]:
    server = cluster.ready_info["toolserver_pid"]
    children = set()
    for proc in all_procs():
        try:
            with open(f"/proc/{proc.pid}/stat", "rb") as fh:
                raw = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        if proc.state != "Z" and int(raw[raw.rfind(")") + 2:].split()[1]) == server:
            children.add(proc.pid)
    return children


@pytest.mark.parametrize("signum, expected_rc", [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)])
def test_a_signal_to_the_tool_reaches_its_worker_and_the_server_keeps_serving(sim, tmp_path, signum, expected_rc):
    env = {**os.environ, **sim.env()}
    for path in tool_clients(sim, "sbatch"):
        proc = subprocess.Popen([path, "--wait", "--wrap", "sleep 60"], env=env, cwd=str(tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()  # sbatch --wait prints the id, then waits for the job
        assert line.startswith("Submitted batch job "), (line, proc.stderr.read())
        proc.send_signal(signum)
        assert proc.wait(30) == expected_rc, (path, proc.stderr.read())
        proc.stdout.close()
        proc.stderr.close()
        assert sim.run(["scancel", line.split()[-1]]).returncode == 0
        assert sim.run(["sinfo", "-h", "-o", "%P"]).returncode == 0


def test_workers_are_reused_and_a_burst_shrinks_back(sim, tmp_path):
    before = server_children(sim)
    assert 1 <= len(before) <= toolserver.IDLE_WORKERS
    for _ in range(10):
        assert sim.run(["sinfo", "-h"]).returncode == 0
    assert server_children(sim) == before  # no fork per call
    env = {**os.environ, **sim.env()}
    burst = [subprocess.Popen([os.path.join(sim.bin_dir, "sbatch"), "--wait", "--wrap", "true"], env=env,
                              cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(6)]
    assert [p.wait(60) for p in burst] == [0] * 6
    deadline = time.monotonic() + 20
    while len(server_children(sim)) > toolserver.IDLE_WORKERS:  # surplus workers retire
        assert time.monotonic() < deadline, server_children(sim)
        time.sleep(0.05)
    assert sim.run(["sinfo", "-h"]).returncode == 0


def test_workers_exit_with_the_tool_server(tmp_path):
    with SimCluster(nodes=1, ssh=False) as cluster:
        assert cluster.run(["sinfo"]).returncode == 0
        workers = server_children(cluster)
        assert workers
        os.kill(cluster.ready_info["toolserver_pid"], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while any(pid_alive(p) for p in workers):
            assert time.monotonic() < deadline, [p for p in workers if pid_alive(p)]
            time.sleep(0.05)
