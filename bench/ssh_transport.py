"""Latency of one tiny command (``true``) over the pooled SSH transport, with and without
TCP_NODELAY, against the simulator's SSH server on loopback; local subprocess for comparison.

    python bench/ssh_transport.py [--runs 200]

Prints the median and 90th percentile per configuration and the ratio to the default
(TCP_NODELAY on both ends). Figures, not assertions: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from clustrix.transports import LocalTransport
from clustrix.transports.ssh import SSHTransport
from clustrix_sim.ssh.keys import new_host_key, write_client_key, write_known_hosts
from clustrix_sim.ssh.server import SimSSHServer


def measure(run: Callable[[], object], runs: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return samples


def describe(name: str, samples: list[float], baseline: float | None) -> str:
    median = statistics.median(samples)
    p90 = statistics.quantiles(samples, n=10)[-1]
    ratio = f"  x{median / baseline:5.1f}" if baseline else ""
    return f"{name:<44} median {median * 1000:7.2f} ms   p90 {p90 * 1000:7.2f} ms{ratio}"


def ssh_samples(tmp: Path, runs: int, client_nodelay: bool, server_nodelay: bool) -> list[float]:
    home = tmp / f"home-{client_nodelay}-{server_nodelay}"
    home.mkdir()
    key = write_client_key(tmp / f"id-{client_nodelay}-{server_nodelay}")
    server = SimSSHServer([key], new_host_key(), {"PATH": os.environ["PATH"]}, str(home),
                          "bench", tcp_nodelay=server_nodelay).start()
    try:
        known_hosts = write_known_hosts(tmp / f"kh-{server.port}",
                                        [("127.0.0.1", server.port, server.host_key)])
        transport = SSHTransport.connect(
            "127.0.0.1", server.port, "bench", str(tmp / f"id-{client_nodelay}-{server_nodelay}"),
            str(known_hosts), use_ssh_config=False, tcp_nodelay=client_nodelay)
        try:
            return measure(lambda: transport.run(["true"]).check(), runs)
        finally:
            transport.close()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args(argv)
    lines = []
    with tempfile.TemporaryDirectory(prefix="clustrix-bench-") as tmp:
        base = ssh_samples(Path(tmp), args.runs, True, True)
        baseline = statistics.median(base)
        lines.append(describe("ssh `true`, TCP_NODELAY client+server", base, None))
        for client, server in ((False, True), (True, False), (False, False)):
            samples = ssh_samples(Path(tmp), args.runs, client, server)
            name = (f"ssh `true`, TCP_NODELAY client {'on' if client else 'OFF'}, "
                    f"server {'on' if server else 'OFF'}")
            lines.append(describe(name, samples, baseline))
        local = LocalTransport()
        lines.append(describe("local subprocess `true`", measure(lambda: local.run(["true"]), args.runs),
                              baseline))
    print(f"{args.runs} runs each, python {sys.version.split()[0]}, paramiko over loopback")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
