"""Real schedulers in containers: image build, container start, and clustrix on them.

    python bench/containers.py [--cold] [--items 200] [--starts 3]

Prints, for the ``slurm`` image (real Slurm 22.05 + accounting behind OpenSSH):

- image build time: cold (``--cold`` first removes every ``clustrix-*`` image, base included,
  so the mmdebstrap base, the Slurm layer and the login layer are all built) and cached (the
  same call again: hash the inputs, find the tag, build nothing);
- container ready time: ``docker run`` until munge, MariaDB, slurmdbd, slurmctld and slurmd are
  up, the node is idle, sacct answers and sshd listens (median of ``--starts``), beside the
  embedded simulator's start (``SimCluster``) and the simulator in a container;
- a round trip (one trivial ``@cluster``-style call, submit -> result; median of 5 after a
  warm-up) and a ``--items``-item map (one job array, default chunking) on slurm-docker beside
  slurm-sim over SSH on loopback.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _sim_helpers import isolated_clustrix_data  # noqa: E402


def square(x):
    return x * x


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def client_figures(profile_mapping, name, items):
    from clustrix.api.executor import ClusterExecutor
    from clustrix.config.profile import Profile

    with ClusterExecutor(Profile.from_mapping(profile_mapping, name=name)) as ex:
        ex.submit(square, 2).result(timeout=300)  # warm-up: SSH login, remote dir
        trips = [timed(lambda: ex.submit(square, 3).result(timeout=300))[1] for _ in range(5)]
        result, map_s = timed(lambda: list(ex.map(square, range(items), timeout=1800)))
        assert result == [i * i for i in range(items)]
    return statistics.median(trips), map_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="remove all clustrix-* images first")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()

    import cloudpickle

    from clustrix_sim.cluster import SimCluster
    from clustrix_sim.containers import DockerCluster
    from clustrix_sim.containers.engine import docker_client
    from clustrix_sim.containers.images import ensure_image

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    client = docker_client()
    if args.cold:
        for image in client.images.list():
            if any(t.startswith("clustrix-") for t in image.tags):
                for tag in image.tags:
                    client.images.remove(tag, force=True)
        result = ensure_image(client, "slurm")
        print(f"image build, cold (base + slurm layer + login layer): {result.seconds:6.1f} s  {result.built}")
    result = ensure_image(client, "slurm")
    print(f"image build, cached (hash inputs, reuse the tag):        {result.seconds:6.2f} s  built {len(result.built)}")

    ready = []
    for _ in range(args.starts):
        with DockerCluster("slurm") as c:
            ready.append(c.start_seconds)
    print(f"ready, real Slurm container (median of {args.starts}):            {statistics.median(ready):6.2f} s  "
          f"(all: {', '.join(f'{r:.2f}' for r in ready)})")
    with DockerCluster("slurm", simulated=True) as c:
        print(f"ready, clustrix_sim (slurm) container:                  {c.start_seconds:6.2f} s")
    began = time.perf_counter()
    with SimCluster(ssh=True) as sim:
        print(f"ready, embedded slurm-sim (no container):               {time.perf_counter() - began:6.2f} s")

    with isolated_clustrix_data():
        with DockerCluster("slurm") as c:
            docker_trip, docker_map = client_figures(c.profile(), "slurm-docker", args.items)
        with SimCluster(ssh=True, nodes=1, cores_per_node=os.cpu_count() or 2) as sim:
            # the simulator's jobs run here: give them this checkout's clustrix, as pytest's session does
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            sim_trip, sim_map = client_figures(sim.profile(env={"PYTHONPATH": root}), "slurm-sim", args.items)
    print(f"\n{'':24}{'slurm-docker (real)':>22}{'slurm-sim':>12}{'ratio':>8}")
    print(f"{'round trip (median)':24}{docker_trip:20.2f} s{sim_trip:10.2f} s{docker_trip / sim_trip:8.1f}")
    print(f"{f'{args.items}-item map':24}{docker_map:20.2f} s{sim_map:10.2f} s{docker_map / sim_map:8.1f}")
    client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
