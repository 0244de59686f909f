"""Round trip of a trivial call (``one() -> 1``): submit, run, learn it finished, fetch the value.

    python bench/roundtrip.py [--n 15] [--warmup 2]

Measured in one run, one call after another, each awaited before the next:

(a) clustrix, ``local`` backend (a runner subprocess per call, no scheduler);
(b) clustrix on the SLURM simulator over SSH (``SimCluster(ssh=True)``, ``sim.profile()``):
    stage over SFTP, ``sbatch``, ``sacct`` polls, result fetch, all through one SSH connection;
(c) submitit's ``SlurmExecutor``, unchanged and with its default polling, on the SAME simulator in
    local mode (``sim.env()`` puts the simulator's ``sbatch``/``sacct`` first on PATH).

Prints medians (and p10/p90), the ratio (c)/(b), the targets, and for (b) where the time goes:
the scheduler's own timestamps split each round trip into queue wait, job run time and client
overhead (submission before the job, polling/fetching after it). Figures, not assertions: the
machine may be shared, so the load average is printed with them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from _sim_helpers import (  # bench/_sim_helpers.py, next to this script
    CommandCounter,
    applied_env,
    format_counts,
    isolated_clustrix_data,
    load_note,
    sample,
    submitit_defaults,
    summary_ms,
    verdict,
)

TARGET_SIM_MS = 60.0  # issue 11
TARGET_RATIO = 15.0


def one() -> int:
    """The benchmarked call (defined in __main__, so both clients pickle it by value)."""
    return 1


def bench_local(n: int, warmup: int) -> list[float]:
    from clustrix import ClusterExecutor

    with ClusterExecutor("local") as ex:
        return sample(lambda: ex.submit(one).result(timeout=120), n, warmup, lambda v: v == 1)


def bench_clustrix_sim(sim, n: int, warmup: int) -> tuple[list[float], list[str], CommandCounter, dict[str, float]]:
    """Samples, job ids, the commands issued, and the controller's timings over the samples."""
    from clustrix import ClusterExecutor

    counter = CommandCounter()
    job_ids: list[str] = []
    with ClusterExecutor(sim.profile(name="bench-sim")) as ex:
        counter.wrap_transport(ex.backend.transport)

        def call() -> int:
            fut = ex.submit(one)
            value = fut.result(timeout=120)
            job_ids.append(fut.job_id)
            return value

        for _ in range(warmup):
            call()
        counter.reset()
        del job_ids[:]
        before = sim.stats().get("timings") or {}
        samples = sample(call, n, 0, lambda v: v == 1)
        sim.wait_idle(60)
        after = sim.stats().get("timings") or {}
    return samples, job_ids, counter, {k: after[k] - before.get(k, 0.0) for k in after}


def bench_submitit(sim, folder: Path, n: int, warmup: int) -> tuple[list[float], CommandCounter]:
    import submitit

    counter = CommandCounter()
    with applied_env(sim.env()):
        ex = submitit.SlurmExecutor(folder=folder)  # defaults, as a user would write it
        for _ in range(warmup):
            ex.submit(one).result()
        with counter.counting_subprocesses():
            samples = sample(lambda: ex.submit(one).result(), n, 0, lambda v: v == 1)
    return samples, counter


def breakdown(sim, job_ids: list[str], samples: list[float], engine: dict[str, float]) -> list[str]:
    """Split clustrix-sim round trips with the scheduler's own submit/start/end timestamps."""
    records = {str(r.job_id): r for r in sim.jobs([int(j) for j in job_ids])}
    queue, run, overhead = [], [], []
    for job_id, total in zip(job_ids, samples, strict=True):
        rec = records.get(job_id)
        if rec is None or rec.start_time is None or rec.end_time is None or rec.submit_time is None:
            continue
        queue.append(rec.start_time - rec.submit_time)
        run.append(rec.end_time - rec.start_time)
        overhead.append(total - (rec.end_time - rec.submit_time))
    if not run:
        return ["   (no accounting records to split the round trips with)"]
    ms = lambda xs: f"{statistics.median(xs) * 1000:7.1f} ms"  # noqa: E731
    lines = [f"   where the time goes (medians over {len(run)} calls, from the simulator's timestamps):",
             f"     queue wait  submit -> start        {ms(queue)}",
             f"     job run     start -> end           {ms(run)}   (bash + the clustrix runner)",
             f"     client      rest of the round trip {ms(overhead)}   (staging + sbatch before, "
             "result probe + fetch after)"]
    count = engine.get("reap_s_count", 0.0)
    if count:  # the controller's own timings (bench/sim_overhead.py explains them)
        lines.append(f"     of the job run: spawn -> exit {engine['exec_to_exit_s'] / count * 1000:6.1f} ms, "
                     f"exit -> recorded {engine['reap_s'] / count * 1000:5.1f} ms (means); controller "
                     f"handling {engine.get('handling_s', 0.0) / len(run) * 1000:5.1f} ms per call")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=15, help="measured calls per configuration (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured calls first (default 2)")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--cores-per-node", type=int, default=4)
    args = parser.parse_args(argv)
    if args.n < 1 or args.warmup < 0:
        parser.error("--n must be >= 1 and --warmup >= 0")

    from clustrix_sim.cluster import SimCluster

    lines = [f"round trip of one trivial call, {args.n} calls each after {args.warmup} warm-up call(s); "
             f"{load_note()}"]
    with isolated_clustrix_data(), tempfile.TemporaryDirectory(prefix="bench-roundtrip-") as tmp:
        local = bench_local(args.n, args.warmup)
        with SimCluster(nodes=args.nodes, cores_per_node=args.cores_per_node, ssh=True) as sim:
            clustrix_sim, job_ids, counter, engine = bench_clustrix_sim(sim, args.n, args.warmup)
            split = breakdown(sim, job_ids, clustrix_sim, engine)
            submitit_samples, submitit_counter = bench_submitit(sim, Path(tmp) / "submitit", args.n, args.warmup)

    sim_ms = statistics.median(clustrix_sim) * 1000
    ratio = statistics.median(submitit_samples) / statistics.median(clustrix_sim)
    lines += [
        f"(a) clustrix, local backend                 {summary_ms(local)}",
        f"(b) clustrix, slurm-sim over SSH            {summary_ms(clustrix_sim)}",
        f"    commands for {args.n} calls: {format_counts(counter.snapshot())}",
        *split,
        f"(c) submitit SlurmExecutor, same simulator  {summary_ms(submitit_samples)}",
        f"    commands for {args.n} calls: {format_counts(submitit_counter.snapshot())}",
        f"    {submitit_defaults()}",
        "",
        f"target: slurm-sim over SSH median < {TARGET_SIM_MS:.0f} ms      -> {sim_ms:7.1f} ms   "
        f"[{verdict(sim_ms < TARGET_SIM_MS)}]",
        f"target: submitit / clustrix-sim >= {TARGET_RATIO:.0f}x         -> {ratio:7.1f}x     "
        f"[{verdict(ratio >= TARGET_RATIO)}]",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
