"""A venv built on the cluster (``environment: {pip: [...], wheelhouse: true}``): first session vs later ones.

    python bench/environment.py [--sessions 3] [--sim] [--concurrent 200]

On slurm-docker (real Slurm 22.05 in a container; ``--sim``: slurm-sim over SSH on loopback), a
function importing ``sortedcontainers`` (present only on this side) runs once per session, each
session a new executor as a new process would make. Prints, per session, the wall time of
submit -> result and of making the environment ready (the first session: repack the wheels
here, upload them, build the venv; the others: one probe), then the ratio first / median later.
The baseline the feature replaces, building for every job, costs the first session's
environment time on every submission. ``--concurrent N`` then submits N calls at once, from N/10
executors (each its own backend, as separate processes would be), against a fresh remote
directory, and prints how many builds the cluster recorded (the venv's ``builds`` file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _sim_helpers import isolated_clustrix_data  # noqa: E402


def uses_sorted(x):
    import sortedcontainers

    return sortedcontainers.SortedList([x, 1]).index(x)


def sessions(mapping: dict, n: int) -> list[tuple[float, float, bool]]:
    from clustrix.api.executor import ClusterExecutor
    from clustrix.config.profile import Profile

    out = []
    for _ in range(n):
        began = time.perf_counter()
        with ClusterExecutor(Profile.from_mapping(mapping, name="bench-env")) as ex:
            ex.submit(uses_sorted, 5).result(timeout=900)
            ready = ex.backend.environment.interpreter()
        out.append((time.perf_counter() - began, ready.ready_s, ready.built))
    return out


def concurrent(mapping: dict, n: int) -> tuple[int, float, int]:
    """(builds recorded on the cluster, seconds until all N results, results that were right)."""
    import threading

    from clustrix.api.executor import ClusterExecutor
    from clustrix.config.profile import Profile

    executors = [ClusterExecutor(Profile.from_mapping(mapping, name="bench-env")) for _ in range(max(1, n // 10))]
    right: list[bool] = []
    began = time.perf_counter()

    def one(i: int) -> None:
        ok = executors[i % len(executors)].submit(uses_sorted, i).result(timeout=1800) == (0 if i <= 1 else 1)
        # SortedList([i, 1]).index(i): 0 when i <= 1, else 1
        right.append(ok)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=1800)
    took = time.perf_counter() - began
    env_dir = executors[0].backend.environment.interpreter().env_dir
    for ex in executors:
        ex.shutdown()
    with ClusterExecutor(Profile.from_mapping(mapping, name="bench-env")) as ex:
        text = ex.backend.transport.get_files([f"{env_dir}/builds"])[f"{env_dir}/builds"] or b""
    return len(text.splitlines()), took, sum(right)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--sim", action="store_true", help="slurm-sim over SSH instead of slurm-docker")
    parser.add_argument("--concurrent", type=int, default=0, help="then N concurrent submissions, fresh venv")
    args = parser.parse_args()

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    environment = {"pip": ["sortedcontainers"], "wheelhouse": True}
    with isolated_clustrix_data() as data:
        if args.sim:
            from clustrix_sim.cluster import SimCluster

            sim = SimCluster(scheduler="slurm", ssh=True, nodes=1, cores_per_node=2, mem_per_node="4G",
                             time_scale=60).start()
            try:
                root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
                mapping = sim.profile(remote_dir=os.path.join(data, "jobs"), environment=environment,
                                      env={"PYTHONPATH": root})
                figures = sessions(mapping, args.sessions)
                fresh = {**mapping, "remote_dir": os.path.join(data, "jobs-concurrent")}
                crowd = concurrent(fresh, args.concurrent) if args.concurrent else None
            finally:
                sim.stop()
            where = "slurm-sim (SSH, loopback)"
        else:
            from clustrix_sim.containers import DockerCluster

            with DockerCluster("slurm") as cluster:
                mapping = cluster.profile(remote_dir=f"/home/clustrix/bench-{uuid.uuid4().hex[:8]}",
                                          environment=environment)
                figures = sessions(mapping, args.sessions)
                fresh = {**mapping, "remote_dir": f"/home/clustrix/bench-{uuid.uuid4().hex[:8]}"}
                crowd = concurrent(fresh, args.concurrent) if args.concurrent else None
            where = "slurm-docker (real Slurm 22.05)"
    print(f"environment {{pip: [sortedcontainers], wheelhouse: true}} on {where}")
    for i, (total, ready, built) in enumerate(figures, start=1):
        print(f"  session {i}: submit->result {total:6.2f} s, environment ready {ready:6.2f} s "
              f"({'built' if built else 'reused'})")
    first = figures[0]
    later = [f for f in figures[1:]]
    if later:
        total_later = statistics.median(f[0] for f in later)
        ready_later = statistics.median(f[1] for f in later)
        print(f"  later sessions (median): submit->result {total_later:.2f} s, environment {ready_later:.3f} s")
        print(f"  saved per later session: {first[0] - total_later:.2f} s "
              f"(first/later: {first[0] / total_later:.1f}x overall, {first[1] / ready_later:.0f}x environment)")
    if crowd is not None:
        builds, took, right = crowd
        print(f"  {args.concurrent} concurrent submissions from {max(1, args.concurrent // 10)} executors, "
              f"fresh venv: {builds} build(s) recorded on the cluster, {right}/{args.concurrent} results right, "
              f"{took:.1f} s to the last result")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
