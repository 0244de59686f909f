"""Run the Grid Engine scenario on the simulator configured as the real cell the captures came
from (one host, 2 slots, queue ``all.q``, PE ``smp``), as the current user."""

from __future__ import annotations

import getpass
import os
import subprocess

from sge_normalize import Side
from sge_scenario import Outcome, run_scenario

from clustrix_sim.cluster import SimCluster

__all__ = ["run_on_simulator"]


def run_on_simulator(tmp_root: str) -> tuple[list[Outcome], Side]:
    with SimCluster(scheduler="sge", nodes=1, cores_per_node=2, mem_per_node="23.5G", ssh=False,
                    root=os.path.join(tmp_root, "sim"), kill_wait_s=1.0) as sim:
        home = os.path.join(tmp_root, "home")
        work = os.path.join(home, "sgecap-sim")
        os.makedirs(work)
        env = dict(os.environ)
        env.update(sim.env())
        env.update(HOME=home, USER=getpass.getuser(), LOGNAME=getpass.getuser(), PATH=sim.bin_dir + ":/usr/bin:/bin")
        env.pop("SHELL", None)

        def run(command: str) -> tuple[str, str, int]:
            done = subprocess.run(["sh", "-c", command], cwd=work, env=env, capture_output=True, text=True,
                                  timeout=60, check=False)
            return done.stdout, done.stderr, done.returncode

        outcomes, jobs = run_scenario(run)
        side = Side(hosts=tuple(n.name for n in sim.config.nodes), user=getpass.getuser(), home=home,
                    work_dir=work, jobs=tuple(jobs))
        return outcomes, side
