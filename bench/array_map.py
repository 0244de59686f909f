"""A map over many items as ONE job array: clustrix vs submitit on the same SLURM simulator.

    python bench/array_map.py [--items 200 --small 50]

For each size (``--items``, then ``--small``) it runs ``square`` over ``range(n)``:

- clustrix: ``ClusterExecutor(sim.profile()).map`` over SSH (the default profile: one item per
  array task up to 500 items), counting every scheduler command clustrix ran by wrapping its
  transport's ``run()``;
- clustrix again with ``array_chunk_size`` set in the profile so there is one array task per
  simulated core (``ceil(n / cores)`` items per task): how the same map runs when each task
  amortises its Python start-up over many items;
- submitit: ``SlurmExecutor.map_array`` with its defaults in local mode (``sim.env()``), then
  ``job.result()`` for each job, counting the tools it started through ``subprocess``.

Both clients get one warm-up call first (not measured: SSH login, key set-up, imports). Each
figure is the wall time until every result is in the caller's hands. The simulator's accounting
splits it: "makespan" is first submit -> last task end as the scheduler saw it (the work itself on
this machine's CPUs), "client tail" is the rest (submission before, noticing completion and
fetching results after). Targets: clustrix >= 8x faster than submitit at --items, exactly one
sbatch, and status commands that do not grow with the number of items (one batched sacct per
poll tick, so they follow the wall time, not the item count). The client's network round trips
are counted too (bench/_round_trips.py): those of the submitting thread (staging + sbatch) and
of the poller thread (result probes, status rounds, result fetches) for the default-profile map.

With the default profile (one item per task) the wall time is mostly the simulator's makespan:
its per-task overhead (fork/exec, bash, the runner's start) on this machine's CPUs, which the
client cannot shorten; the chunked run shows what is left when tasks amortise it.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from pathlib import Path

from _round_trips import RoundTripCounter  # bench/_round_trips.py
from _sim_helpers import (  # bench/_sim_helpers.py, next to this script
    CommandCounter,
    applied_env,
    format_counts,
    isolated_clustrix_data,
    load_note,
    submitit_defaults,
    timed,
    verdict,
)

TARGET_RATIO = 8.0
STATUS_TOOLS = ("sacct", "squeue", "scontrol")


def square(x: int) -> int:
    """The item function (defined in __main__: both clients pickle it by value)."""
    return x * x


class Outcome:
    """One client's map over n items: wall seconds, commands, and the array's base job id."""

    def __init__(self, wall_s: float, counts: dict[str, int], base_job_id: int):
        self.wall_s = wall_s
        self.counts = counts
        self.base_job_id = base_job_id

    @property
    def status_commands(self) -> int:
        return sum(self.counts.get(t, 0) for t in STATUS_TOOLS)


def run_clustrix(ex, counter: CommandCounter, n: int, trips: RoundTripCounter | None = None) -> Outcome:
    counter.reset()
    futures_holder: list = []

    def go() -> list[int]:
        futures = ex.submit_array(square, range(n))
        futures_holder.extend(futures)
        return [f.result(timeout=600) for f in futures]

    if trips is None:
        values, wall = timed(go)
    else:
        with trips.counting(ex.backend.transport):
            values, wall = timed(go)
    _check(values, n, "clustrix")
    base = int(re.match(r"\d+", futures_holder[0].job_id).group())
    return Outcome(wall, dict(counter.snapshot()), base)


def run_submitit(ex, counter: CommandCounter, n: int) -> Outcome:
    counter.reset()
    holder: list = []

    def go() -> list[int]:
        with counter.counting_subprocesses():
            jobs = ex.map_array(square, range(n))
            holder.extend(jobs)
            return [j.result() for j in jobs]

    values, wall = timed(go)
    _check(values, n, "submitit")
    return Outcome(wall, dict(counter.snapshot()), int(holder[0].job_id.split("_")[0]))


def _check(values: list[int], n: int, who: str) -> None:
    if values != [x * x for x in range(n)]:
        raise AssertionError(f"{who} returned wrong results for {n} items")


def makespan_s(sim, base_job_id: int) -> float | None:
    """First submit -> last end of the array's tasks, from the simulator's accounting."""
    tasks = [r for r in sim.jobs() if r.array_job_id == base_job_id or r.job_id == base_job_id]
    ends = [r.end_time for r in tasks if r.end_time is not None]
    submits = [r.submit_time for r in tasks if r.submit_time is not None]
    if not ends or not submits:
        return None
    return max(ends) - min(submits)


def describe(name: str, out: Outcome, sim) -> str:
    span = makespan_s(sim, out.base_job_id)
    split = "" if span is None else f"makespan {span:6.2f} s + client tail {out.wall_s - span:5.2f} s"
    return (f"   {name}\n      {out.wall_s:7.2f} s   ({split})   commands: {format_counts(out.counts)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200, help="the compared map size (default 200)")
    parser.add_argument("--small", type=int, default=50, help="a second size for the command counts (default 50)")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--cores-per-node", type=int, default=4)
    args = parser.parse_args(argv)
    if args.items < 1 or args.small < 1:
        parser.error("--items and --small must be >= 1")

    import submitit

    from clustrix import ClusterExecutor
    from clustrix_sim.cluster import SimCluster

    cores = args.nodes * args.cores_per_node
    lines = [f"map over n items as one job array, {args.nodes} simulated nodes x {args.cores_per_node} cores; "
             f"{load_note()}"]
    results: dict[int, tuple[Outcome, Outcome]] = {}
    chunked: dict[int, Outcome] = {}
    trips: dict[int, RoundTripCounter] = {}
    with isolated_clustrix_data(), tempfile.TemporaryDirectory(prefix="bench-array-") as tmp, \
            SimCluster(nodes=args.nodes, cores_per_node=args.cores_per_node, ssh=True) as sim:
        c_counter, s_counter, k_counter = CommandCounter(), CommandCounter(), CommandCounter()
        with ClusterExecutor(sim.profile(name="bench-array")) as cex, applied_env(sim.env()):
            c_counter.wrap_transport(cex.backend.transport)
            sex = submitit.SlurmExecutor(folder=Path(tmp) / "submitit")  # defaults, as a user would
            cex.submit(square, 3).result(timeout=120)  # warm-up: SSH login, key set-up
            sex.submit(square, 3).result()
            for n in (args.items, args.small):
                chunk = math.ceil(n / cores)
                with ClusterExecutor(sim.profile(name="bench-array", array_chunk_size=chunk)) as kex:
                    k_counter.wrap_transport(kex.backend.transport)
                    kex.submit(square, 3).result(timeout=120)
                    trips[n] = RoundTripCounter()
                    results[n] = (run_clustrix(cex, c_counter, n, trips[n]), run_submitit(sex, s_counter, n))
                    chunked[n] = run_clustrix(kex, k_counter, n)
                lines.append(f"n = {n} items")
                lines.append(describe("clustrix", results[n][0], sim)
                             + f"   -> {results[n][1].wall_s / results[n][0].wall_s:5.1f}x faster than submitit")
                sub_sftp, sub_req, sub_cmd = trips[n].of("MainThread")
                poll_sftp, poll_req, poll_cmd = trips[n].of("clustrix-")
                lines.append(f"      client round trips: submission {sub_sftp} SFTP ({sub_req} requests) + "
                             f"{sub_cmd} command(s); polling {poll_sftp} SFTP ({poll_req} requests) + {poll_cmd} "
                             "command(s)")
                lines.append(describe("submitit", results[n][1], sim))
                lines.append(describe(f"clustrix, array_chunk_size={chunk} ({math.ceil(n / chunk)} tasks)",
                                      chunked[n], sim)
                             + f"   -> {results[n][1].wall_s / chunked[n].wall_s:5.1f}x faster than submitit")

    big_c, big_s = results[args.items]
    small_c = results[args.small][0]
    ratio = big_s.wall_s / big_c.wall_s
    ratio_chunked = big_s.wall_s / chunked[args.items].wall_s
    one_sbatch = all(out.counts.get("sbatch", 0) == 1 for n in results for out in (results[n][0], chunked[n]))
    per_s = [(n, results[n][0].status_commands, results[n][0].wall_s) for n in (args.items, args.small)]
    lines += [
        f"   {submitit_defaults()}",
        "",
        f"target: submitit / clustrix >= {TARGET_RATIO:.0f}x at {args.items} items  -> {ratio:5.1f}x   "
        f"[{verdict(ratio >= TARGET_RATIO)}] with the default profile (one item per task)",
        f"                                                -> {ratio_chunked:5.1f}x   "
        f"[{verdict(ratio_chunked >= TARGET_RATIO)}] with array_chunk_size (one task per simulated core)",
        f"target: exactly one sbatch per map                -> "
        f"{', '.join(str(o.counts.get('sbatch', 0)) for n in results for o in (results[n][0], chunked[n]))}   "
        f"[{verdict(one_sbatch)}]",
        "target: status commands independent of item count -> "
        + "; ".join(f"{n} items: {c} in {w:.1f} s ({c / w:.1f}/s)" for n, c, w in per_s)
        + f"   [{verdict(big_c.status_commands < args.items and small_c.status_commands < args.small)}: "
          "one batched command per poll tick, never one per item]",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
