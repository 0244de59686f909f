"""Where did a map's time go? Run a map on an embedded simulated cluster, then draw its timeline.

Run it from a checkout::

    python examples/timeline_map.py --items 50 --out timeline.html

It starts a simulated SLURM cluster (2 nodes of 4 cores, reached over SSH on loopback), maps a
function whose items take 1 to 6 seconds (items 13 and 37 raise, item 29's process exits 3) over
50 items, and writes the picture twice: from the futures (``clustrix.timeline(futures)``) and
with the command a user runs later, from any shell::

    clustrix jobs --ledger <cluster root>/ledger.sqlite3 timeline -o timeline.html

(``--scheduler pbs|torque|sge`` runs the same map on another simulated scheduler.) The queue
wait you see is real: 50 items on 8 cores wait for each other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import cloudpickle

import clustrix
from clustrix.api.executor import ClusterExecutor
from clustrix.config.profile import Profile


def simulate(i: int) -> int:
    """Pretend work: 1 to 6 seconds, a few failures of both kinds."""
    import os
    import time

    time.sleep(1 + (i * 7) % 6)
    if i in (13, 37):
        raise ValueError(f"item {i}: bad input")
    if i == 29:
        os._exit(3)  # the job itself fails, not just the function
    return i * i


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--scheduler", default="slurm", choices=["slurm", "pbs", "torque", "sge"])
    parser.add_argument("--out", default="timeline.html", help="the file the CLI writes (html, svg or png)")
    args = parser.parse_args(argv)

    from clustrix_sim.cluster import SimCluster

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the jobs do not import this file
    # Jobs import the same clustrix as this script (a checkout need not be installed there).
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(clustrix.__file__)))
    with SimCluster(scheduler=args.scheduler, nodes=2, cores_per_node=4, mem_per_node="8G") as sim:
        profile = Profile.from_mapping(sim.profile(name="timeline-demo", env={"PYTHONPATH": package_root}))
        with ClusterExecutor(profile) as ex:
            futures = ex.submit_array(simulate, range(args.items))
            for fut in futures:
                fut.exception(timeout=600)
            report = clustrix.timeline(futures, title=f"{args.items}-item map on {args.scheduler}-sim")
            report.write_html("timeline-from-futures.html")
        totals = report.totals()
        print(f"makespan {totals.makespan_s:.0f} s; queue wait {totals.queue_wait.total_s:.0f} task-s, "
              f"run {totals.run.total_s:.0f} task-s; {totals.by_state}")
        cli = os.path.join(os.path.dirname(sys.executable), "clustrix")
        subprocess.run([cli, "jobs", "--ledger", profile.ledger, "timeline", "--title",
                        f"{args.items}-item map on {args.scheduler}-sim", "-o", args.out], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
