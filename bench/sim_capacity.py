"""How fast is the simulated cluster? Prints figures next to their targets (no assertions).

    python bench/sim_capacity.py [--jobs 10000] [--runs 30]

Measures: SimCluster start time (with and without the SSH login node); sbatch median latency in
local mode (the shim on PATH) and over SSH (paramiko exec on one pooled connection, as clustrix
does); squeue / sacct wall time with --jobs held jobs in the queue (submitted as arrays of
MaxArraySize-1 tasks through the protocol).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from clustrix_sim import SimCluster
from clustrix_sim.engine.model import JobRequest

TARGETS = {"start": 1.0, "sbatch": 0.060, "squeue_10k": 0.5}


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def report(label: str, samples: list[float], target: float | None = None) -> None:
    med = statistics.median(samples)
    extra = f"   target < {target * 1000:.0f} ms  {'OK' if med < target else 'MISSED'}" if target else ""
    print(f"{label:<44} median {med * 1000:8.1f} ms   min {min(samples) * 1000:8.1f} ms   "
          f"(n={len(samples)}){extra}")


def bench_start(runs: int) -> None:
    for ssh in (False, True):
        samples = []
        for _ in range(runs):
            sim = SimCluster(nodes=2, ssh=ssh)
            sim.start()
            samples.append(sim.start_seconds)
            sim.stop()
        report(f"SimCluster.start() ssh={ssh}", samples, TARGETS["start"])


def ssh_exec(client, command: str) -> str:
    _, out, err = client.exec_command(command, timeout=60)
    text = out.read().decode()
    if out.channel.recv_exit_status() != 0:
        raise RuntimeError(f"{command!r} failed: {err.read().decode()}")
    return text


def bench_sbatch(sim: SimCluster, work: str, runs: int) -> None:
    env = {**os.environ, **sim.env()}
    sbatch = os.path.join(sim.bin_dir, "sbatch")
    samples = timed(lambda: subprocess.run([sbatch, "--hold", "--wrap", "true"], cwd=work, env=env,
                                           capture_output=True, check=True), runs)
    report("sbatch, local mode (shim on PATH)", samples, TARGETS["sbatch"])
    import paramiko

    info = sim.ssh
    client = paramiko.SSHClient()
    client.load_host_keys(info.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(info.host, info.port, username=info.user, key_filename=info.key_file,
                   look_for_keys=False, allow_agent=False, timeout=10)
    client.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        ssh_exec(client, "true")
        report("ssh exec `true` (transport floor)", timed(lambda: ssh_exec(client, "true"), runs))
        samples = timed(lambda: ssh_exec(client, f"cd {work} && sbatch --hold --wrap true"), runs)
        report("sbatch over SSH (paramiko exec)", samples, TARGETS["sbatch"])
    finally:
        client.close()


def fill_queue(sim: SimCluster, work: str, jobs: int) -> None:
    per_array = sim.config.max_array_size - 1
    began = time.perf_counter()
    left = jobs
    while left > 0:
        n = min(per_array, left)
        req = JobRequest(script="#!/bin/sh\ntrue\n", name="bench", user=sim.user, uid=os.getuid(), work_dir=work,
                         array_indices=list(range(n)), array_text=f"0-{n - 1}", hold=True)
        sim.call("submit", {"request": req.to_dict()}, tool="sbatch")
        left -= n
    print(f"queued {jobs} held array tasks through the protocol in {time.perf_counter() - began:.2f} s")


def bench_queue(sim: SimCluster, jobs: int) -> None:
    env = {**os.environ, **sim.env()}

    def tool(*argv: str) -> None:
        subprocess.run([os.path.join(sim.bin_dir, argv[0]), *argv[1:]], env=env, capture_output=True, check=True)

    report(f"protocol `jobs` op, {jobs} jobs", timed(lambda: sim.call("jobs", {}), 5))
    report(f"squeue (grouped arrays), {jobs} jobs", timed(lambda: tool("squeue"), 5), TARGETS["squeue_10k"])
    report(f"squeue -r (one line per task), {jobs} jobs", timed(lambda: tool("squeue", "-r"), 5),
           TARGETS["squeue_10k"])
    report(f"squeue --noheader -o '%i %t', {jobs} jobs", timed(lambda: tool("squeue", "--noheader", "-o", "%i %t"), 5),
           TARGETS["squeue_10k"])
    report(f"sacct -X --parsable2, {jobs} jobs", timed(lambda: tool("sacct", "-X", "--parsable2"), 5))
    report(f"sacct (with steps), {jobs} jobs", timed(lambda: tool("sacct"), 3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--start-runs", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    bench_start(args.start_runs)
    with tempfile.TemporaryDirectory(prefix="sim-bench-") as work, SimCluster(nodes=4, ssh=True) as sim:
        bench_sbatch(sim, work, args.runs)
        fill_queue(sim, work, args.jobs)
        bench_queue(sim, args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
