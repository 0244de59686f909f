"""What round trips cost on a real link: clustrix over SSH to the simulator through a delaying proxy.

    python bench/latency.py [--delay-ms 10 --n 8 --items 100]

A TCP proxy on loopback holds every chunk for ``--delay-ms`` in each direction (so one round trip
costs twice that, as to a cluster a few hundred kilometres away) between clustrix and the
simulator's SSH server. Prints, over that link, the median time of ``executor.submit()`` (staging
and sbatch: what a caller waits for before it gets its future), of a whole trivial call (submit ->
result), and of a ``--items``-item map with ``array_chunk_size`` set (one task per simulated core,
so the simulator's own time is small). Run it with two checkouts on ``PYTHONPATH`` to compare.
"""

from __future__ import annotations

import argparse
import heapq
import os
import select
import socket
import statistics
import sys
import threading
import time

from _sim_helpers import isolated_clustrix_data, load_note


def one() -> int:
    return 1


def square(x: int) -> int:
    return x * x


class DelayingProxy:
    """Forwards TCP connections to ``target``, every chunk delivered ``delay_s`` after it arrived."""

    def __init__(self, target: tuple[str, int], delay_s: float):
        self.target, self.delay_s = target, delay_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        queue: list[tuple[float, int, bytes]] = []
        seq = 0
        open_ = True
        while open_ or queue:
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                try:
                    dst.sendall(heapq.heappop(queue)[2])
                except OSError:
                    return
            wait = max(0.0, queue[0][0] - now) if queue else 1.0
            if not open_:
                time.sleep(wait)
                continue
            readable, _, _ = select.select([src], [], [], wait)
            if readable:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    open_ = False
                    continue
                heapq.heappush(queue, (time.monotonic() + self.delay_s, seq, data))
                seq += 1
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self._stop = True
        self.listener.close()


def known_hosts_for(path: str, old_port: int, new_port: int, out: str) -> str:
    with open(path) as fh:
        text = fh.read()
    with open(out, "w") as fh:
        fh.write(text.replace(f"[127.0.0.1]:{old_port}", f"[127.0.0.1]:{new_port}"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=10.0, help="one-way delay (default 10 ms)")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--items", type=int, default=100)
    args = parser.parse_args(argv)

    import clustrix
    from clustrix import ClusterExecutor
    from clustrix_sim.cluster import SimCluster

    lines = [f"clustrix from {os.path.dirname(os.path.dirname(clustrix.__file__))}; one-way delay "
             f"{args.delay_ms:g} ms (round trip {2 * args.delay_ms:g} ms); {load_note()}"]
    with isolated_clustrix_data() as tmp, SimCluster(nodes=2, cores_per_node=4, ssh=True) as sim:
        base = sim.profile(name="bench-latency")
        proxy = DelayingProxy((base["host"], base["port"]), args.delay_ms / 1000)
        profile = dict(base, port=proxy.port, poll_interval_s=0.05,
                       known_hosts=known_hosts_for(base["known_hosts"], base["port"], proxy.port,
                                                   os.path.join(tmp, "known_hosts")))
        try:
            with ClusterExecutor(profile) as ex:
                assert ex.submit(one).result(timeout=120) == 1  # warm-up: login, key agreed
                submits, calls = [], []
                for _ in range(args.n):
                    began = time.perf_counter()
                    fut = ex.submit(one)
                    submits.append(time.perf_counter() - began)
                    assert fut.result(timeout=120) == 1
                    calls.append(time.perf_counter() - began)
                chunk = -(-args.items // 8)
                began = time.perf_counter()
                assert list(ex.map(square, range(args.items), chunksize=chunk)) == [x * x for x in range(args.items)]
                mapped = time.perf_counter() - began
        finally:
            proxy.close()
    ms = lambda xs: f"{statistics.median(xs) * 1000:7.0f} ms"  # noqa: E731
    lines += [f"  submit() returns (stage + sbatch)     median {ms(submits)}",
              f"  trivial call, submit -> result        median {ms(calls)}",
              f"  {args.items}-item map, {chunk} items per task       {mapped * 1000:7.0f} ms"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
