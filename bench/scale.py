"""Scale on the SLURM simulator over SSH: a 10,000-item map, 8 concurrent clients, 2,000 live jobs.

    python bench/scale.py [--items 10000 --clients 8 --live 2000 --max-array-size 1001]

(1) ``ClusterExecutor.map`` over ``--items`` items with the default profile (automatic chunking:
    500 array tasks). Prints the wall time, the sbatch commands (one per array; more only when
    the tasks exceed ``--max-array-size``, the site's MaxArraySize, set on the simulator and in
    the profile), the status rounds per poller tick (each round may run several sacct commands
    side by side; the target is at most one ROUND per tick), and the client's peak memory:
    tracemalloc's peak of Python allocations during the map, measured at a tenth of the items
    too so the growth per item shows, and the process's peak RSS (``getrusage``).
(2) ``--clients`` client PROCESSES at once, each with its own executor and SSH connection,
    each running 10 single calls and a 50-item map on the same simulator; every value checked.
(3) ``--live`` separately submitted jobs held live (each waits for a file), then one status round
    over all of them: how many sacct commands, how many ids and bytes the largest carries, how
    long the round takes; then all of them cancelled (scancel commands split the same way).

Figures, not assertions; the machine's load is printed with them.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

from _sim_helpers import CommandCounter, format_counts, isolated_clustrix_data, load_note, verdict

TARGET_MEMORY_MB = 300.0


def square(x: int) -> int:
    return x * x


def wait_for_file(path: str, i: int) -> int:
    deadline = time.monotonic() + 3600
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    return i


class TickRecorder:
    """Counts poller ticks and the status rounds (``source.query`` calls) each one ran."""

    def __init__(self, backend) -> None:  # type: ignore[no-untyped-def]
        self.rounds_per_tick: list[int] = []
        self.round_seconds: list[float] = []
        self._current = 0
        poller, source = backend.poller, backend.launcher.source
        tick, query = poller.tick, source.query

        def counting_tick() -> float:
            self._current = 0
            try:
                return tick()
            finally:
                self.rounds_per_tick.append(self._current)

        def counting_query(ids):  # type: ignore[no-untyped-def]
            self._current += 1
            began = time.perf_counter()
            try:
                return query(ids)
            finally:
                self.round_seconds.append(time.perf_counter() - began)

        poller.tick, source.query = counting_tick, counting_query


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def one_map(ex, n: int, counter: CommandCounter) -> tuple[float, float, dict[str, int]]:  # type: ignore[no-untyped-def]
    """``(wall s, tracemalloc peak MB, commands)`` of ``list(ex.map(square, range(n)))``."""
    counter.reset()
    tracemalloc.start()
    began = time.perf_counter()
    total = 0
    for i, value in enumerate(ex.map(square, range(n), timeout=3600)):
        if value != i * i:
            raise AssertionError(f"item {i}: {value!r}")
        total += 1
    wall = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if total != n:
        raise AssertionError(f"{total} results for {n} items")
    return wall, peak / 2**20, dict(counter.snapshot())


def bench_map(sim, n: int, max_array_size: int) -> list[str]:  # type: ignore[no-untyped-def]
    from clustrix import ClusterExecutor

    counter = CommandCounter()
    lines = [f"(1) map over {n} items, default profile, MaxArraySize {max_array_size}"]
    # The key is only set when it differs from SLURM's default, so this section also runs against
    # a clustrix without the max_array_size key (for before/after figures).
    extra = {} if max_array_size == 1001 else {"max_array_size": max_array_size}
    with ClusterExecutor(sim.profile(name="bench-scale", **extra)) as ex:
        counter.wrap_transport(ex.backend.transport)
        ex.submit(square, 2).result(timeout=120)  # warm-up: SSH login, key
        small = max(1, n // 10)
        s_wall, s_peak, _ = one_map(ex, small, counter)
        ticks = TickRecorder(ex.backend)
        wall, peak, counts = one_map(ex, n, counter)
    most = max(ticks.rounds_per_tick, default=0)
    per_item_kb = (peak - s_peak) * 1024 / (n - small) if n > small else 0.0
    lines += [
        f"    {n} items: {wall:7.2f} s   commands: {format_counts(counts)}",
        f"    poller ticks {len(ticks.rounds_per_tick)}, status rounds {sum(ticks.rounds_per_tick)}, "
        f"most rounds in one tick {most}",
        f"    client Python peak (tracemalloc): {s_peak:6.1f} MB at {small} items, {peak:6.1f} MB at {n} items "
        f"({per_item_kb:.2f} KB per extra item; {s_wall:.1f} s for the small map)",
        f"    process peak RSS so far: {rss_mb():6.1f} MB",
        f"    target: completes, <= 1 status round per tick -> {most}   [{verdict(most <= 1)}]",
        f"    target: client peak memory < {TARGET_MEMORY_MB:.0f} MB -> RSS {rss_mb():.0f} MB   "
        f"[{verdict(rss_mb() < TARGET_MEMORY_MB)}]",
    ]
    return lines


def client_process(profile: dict, index: int, queue) -> None:  # type: ignore[no-untyped-def]
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    from clustrix import ClusterExecutor

    try:
        began = time.perf_counter()
        with ClusterExecutor(dict(profile, name=f"client-{index}")) as ex:
            singles = [ex.submit(square, index * 100 + k) for k in range(10)]
            mapped = list(ex.map(square, range(50), timeout=1200))
            values = [f.result(timeout=1200) for f in singles]
        ok = values == [(index * 100 + k) ** 2 for k in range(10)] and mapped == [x * x for x in range(50)]
        queue.put((index, ok, time.perf_counter() - began, ""))
    except Exception as exc:  # noqa: BLE001 - reported by the parent
        queue.put((index, False, 0.0, f"{type(exc).__name__}: {exc}"))


def bench_clients(sim, clients: int) -> list[str]:  # type: ignore[no-untyped-def]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    profile = sim.profile()
    began = time.perf_counter()
    procs = [ctx.Process(target=client_process, args=(profile, i, queue)) for i in range(clients)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join(60)
    wall = time.perf_counter() - began
    good = sum(1 for _, ok, _, _ in results if ok)
    errors = [e for _, ok, _, e in results if not ok]
    lines = [f"(2) {clients} client processes at once, each 10 calls + a 50-item map, one simulator",
             f"    {good}/{clients} clients got every value right in {wall:.1f} s (slowest client "
             f"{max(r[2] for r in results):.1f} s)   [{verdict(good == clients)}]"]
    lines += [f"    error: {e}" for e in errors[:3]]
    return lines


def bench_live(sim, live: int, tmp: str) -> list[str]:  # type: ignore[no-untyped-def]
    from clustrix import ClusterExecutor
    from clustrix.polling.scheduler_source import MAX_ID_CHARS, MAX_IDS_PER_COMMAND

    go = os.path.join(tmp, "go")
    sizes: list[tuple[int, int]] = []  # (ids, argv bytes) of each sacct
    cancels: list[int] = []  # ids of each scancel
    lock = threading.Lock()
    with ClusterExecutor(sim.profile(name="bench-live", poll_max_interval_s=2.0)) as ex:
        transport = ex.backend.transport
        run = transport.run

        def recording_run(argv, *a, **kw):  # type: ignore[no-untyped-def]
            tool = os.path.basename(argv[0])
            if tool == "sacct":
                ids = next(x[7:].split(",") for x in argv if x.startswith("--jobs="))
                with lock:
                    sizes.append((len(ids), len(" ".join(argv).encode())))
            elif tool == "scancel":
                with lock:
                    cancels.append(len(argv) - 1)
            return run(argv, *a, **kw)

        transport.run = recording_run
        ticks = TickRecorder(ex.backend)
        began = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:  # 8 submitting threads share the pooled connection
            futures = list(pool.map(lambda i: ex.submit(wait_for_file, go, i), range(live)))
        submit_s = time.perf_counter() - began
        seen_before = len(ticks.round_seconds)
        deadline = time.monotonic() + 600
        while len(ticks.round_seconds) == seen_before and time.monotonic() < deadline:
            time.sleep(0.2)  # wait for a status round that started after the last submission
        while len(ticks.round_seconds) < seen_before + 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        with lock:
            status_sizes = list(sizes)
        round_s = ticks.round_seconds[-1] if ticks.round_seconds else float("nan")
        began = time.perf_counter()
        cancelled = ex.cancel_futures(futures)
        cancel_s = time.perf_counter() - began
        with lock:
            cancel_sizes = list(cancels)
        open(go, "w").close()
    per_round = [n for n in ticks.rounds_per_tick if n]
    biggest = max(status_sizes, default=(0, 0))
    last_round_cmds = sum(1 for n, _ in status_sizes[-((live + MAX_IDS_PER_COMMAND - 1) // MAX_IDS_PER_COMMAND):])
    return [
        f"(3) {live} live jobs (separate submissions, held until a file appears), one executor",
        f"    submitted in {submit_s:.1f} s ({live / submit_s:.0f} jobs/s from 8 threads on one connection)",
        f"    status: {len(status_sizes)} sacct commands in {len(ticks.round_seconds)} rounds; a round over all "
        f"{live} jobs runs {last_round_cmds} commands side by side in {round_s * 1000:.0f} ms",
        f"    largest sacct: {biggest[0]} ids, {biggest[1]} bytes of argv (limits: {MAX_IDS_PER_COMMAND} ids, "
        f"{MAX_ID_CHARS} characters of ids)   [{verdict(biggest[0] <= MAX_IDS_PER_COMMAND)}]",
        f"    most status rounds in one tick: {max(per_round, default=0)}   [{verdict(max(per_round, default=0) <= 1)}]",
        f"    cancel: {cancelled} futures in {cancel_s:.1f} s with {len(cancel_sizes)} scancel command(s) of "
        f"{', '.join(str(n) for n in cancel_sizes[:12])} ids",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--live", type=int, default=2_000)
    parser.add_argument("--max-array-size", type=int, default=1001)
    parser.add_argument("--only", choices=("map", "clients", "live"), action="append",
                        help="run only these sections (repeatable)")
    args = parser.parse_args(argv)
    sections = set(args.only or ("map", "clients", "live"))

    from clustrix_sim.cluster import SimCluster

    lines = [f"scale on slurm-sim over SSH; {load_note()}"]
    with isolated_clustrix_data(), tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, \
            SimCluster(nodes=2, cores_per_node=4, ssh=True, max_array_size=args.max_array_size) as sim:
        if "map" in sections:
            lines += bench_map(sim, args.items, args.max_array_size)
            print("\n".join(lines), flush=True)
            lines = []
        if "clients" in sections:
            lines += bench_clients(sim, args.clients)
            print("\n".join(lines), flush=True)
            lines = []
        if "live" in sections:
            lines += bench_live(sim, args.live, tmp)
    lines.append(f"({load_note()} at the end)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
