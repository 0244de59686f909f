"""clustrix_sim: a simulated HPC cluster that really schedules and runs jobs.

It answers SLURM's (later PBS's and SGE's) commands with the real tools' exact output, on PATH,
over SSH on loopback, or in Docker. It never imports clustrix (a test enforces it): it is the
independent oracle that checks clustrix's scheduler modules.

The rooms, lowest first; each imports only from the rooms above it in this list:

- ``frontends.py``: how the neutral parts find a scheduler's front end, by module name;
- ``engine/``: the cluster model, scheduling, SQLite store, job processes, the ops;
- ``ssh/``: the login node's SSH server (paramiko) and key material;
- ``controller/``: the controller process, the JSON-lines protocol, the tools' fork server and
  the tool scripts on the cluster's PATH (``python -m clustrix_sim.controller``);
- ``slurm/`` (``pbs/``, ``sge/`` next): one front end per scheduler, the commands themselves;
  a front end imports only ``engine.model`` and ``controller.protocol`` (it is a client);
- ``strategies/``: Hypothesis strategies for scheduler output (the only Hypothesis user);
- ``faults.py``, ``cluster.py`` (:class:`SimCluster`): the public face;
- ``containers/``: the same handle over a Docker container (real Slurm or Grid Engine, or the
  simulator) behind OpenSSH, on the ``docker`` SDK, imported lazily;
- ``cli.py`` (``clustrix-sim``).

No import cycles, function-level and ``TYPE_CHECKING`` imports included (a test enforces it).
"""

from __future__ import annotations

__all__ = ["SimCluster"]


def __getattr__(name: str):
    # Lazy: the tool scripts import clustrix_sim on every call and must not pay for SimCluster.
    if name == "SimCluster":
        from clustrix_sim.cluster import SimCluster

        return SimCluster
    raise AttributeError(f"module 'clustrix_sim' has no attribute {name!r}")
