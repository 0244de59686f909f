"""A Slurm site as one object: the slurm.conf knobs clients can see, for both sides of a comparison.

    site = SlurmSite(nodes=1, cpus_per_node=2, real_memory_mb=16000, first_job_id=100000)
    SimCluster(site=site)                      # the simulator runs this site
    site.render_slurm_conf("node1")            # ...and real Slurm's slurm.conf says the same

What each knob changes for clients:

- ``slurm_version`` (``"22.05"`` or ``"24.11"``): what the tools print, where releases differ
  (``--version``, ``scontrol show job``'s keys, options one release lacks; see :mod:`versions`);
- ``prolog_flags`` (``PrologFlags``): ``Contain`` adds an ``.extern`` step to every job in sacct;
- ``def_mem_per_cpu_mb`` / ``def_mem_per_node_mb`` (``DefMemPerCPU``/``DefMemPerNode``) with
  ``select_type_parameters`` (``CR_Core_Memory`` ...): what a job that asks for no memory gets.
  With memory as a consumable and neither default set, real Slurm gives such a job the node's
  whole memory (it waits for Resources behind any other job); the simulator models that and a
  per-CPU default equal to the node's share (RealMemory/CPUs) — other values are refused by name;
- ``min_job_age_s`` (``MinJobAge``): how long a finished job stays in squeue/scontrol;
- ``accounting`` (``AccountingStorageType``): whether sacct answers at all;
  ``default_account``: the account of a job that names none (the user's default association);
- ``max_array_size`` (``MaxArraySize``), ``first_job_id`` (``FirstJobId``), ``kill_wait_s``
  (``KillWait``), ``cluster_name`` (``ClusterName``), the node shape and ``partitions``
  (``PartitionName=... MaxTime= DefaultTime= MaxNodes= Default=``);
- ``accounting_lag_s``: a simulator option (real accounting lags the controller by itself): sacct
  answers as the jobs were this many seconds ago, as after a slow slurmdbd.

The simulator reads the version of its front end from ``<state dir>/slurm.json`` (written at
start by :func:`write_frontend_settings`; a tool finds the state dir from its controller socket),
so ``sbatch --version`` costs no round trip to the controller.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from clustrix_sim.slurm.versions import normalize_version

__all__ = ["SlurmPartition", "SlurmSite", "write_frontend_settings", "FRONTEND_FILE"]

FRONTEND_FILE = "slurm.json"
MEMORY_PARAMETERS = ("CR_Core_Memory", "CR_CPU_Memory", "CR_Socket_Memory", "CR_Memory")
SELECT_PARAMETERS = (*MEMORY_PARAMETERS, "CR_Core", "CR_CPU", "CR_Socket")


@dataclass(frozen=True)
class SlurmPartition:
    """One partition; ``max_time_min``/``default_time_min`` None is UNLIMITED (slurm.conf minutes)."""

    name: str
    default: bool = False
    max_time_min: int | None = None
    default_time_min: int | None = None
    max_nodes: int | None = None

    def conf_line(self, nodes: str) -> str:
        words = [f"PartitionName={self.name}", f"Nodes={nodes}", f"Default={'YES' if self.default else 'NO'}",
                 f"MaxTime={self.max_time_min if self.max_time_min is not None else 'INFINITE'}"]
        if self.default_time_min is not None:
            words.append(f"DefaultTime={self.default_time_min}")
        if self.max_nodes is not None:
            words.append(f"MaxNodes={self.max_nodes}")
        return " ".join([*words, "State=UP"])

    def record(self, node_names: list[str]) -> dict[str, Any]:
        """The simulator's partition (``PartitionRecord`` fields)."""
        return {"name": self.name, "nodes": list(node_names), "default": self.default,
                "max_time_s": None if self.max_time_min is None else self.max_time_min * 60,
                "default_time_s": None if self.default_time_min is None else self.default_time_min * 60,
                "max_nodes": self.max_nodes}


@dataclass(frozen=True)
class SlurmSite:
    """The site (see the module docstring). The defaults are a common single-cluster setup:
    cons_tres with CR_Core_Memory and no memory default, no PrologFlags, accounting on."""

    slurm_version: str = "22.05"
    cluster_name: str = "simcluster"
    nodes: int = 2
    cpus_per_node: int = 4
    real_memory_mb: int = 16000
    partitions: tuple[SlurmPartition, ...] = (SlurmPartition("normal", default=True),)
    select_type_parameters: str = "CR_Core_Memory"
    def_mem_per_cpu_mb: int | None = None
    def_mem_per_node_mb: int | None = None
    prolog_flags: str = ""
    min_job_age_s: int = 300
    accounting: bool = True
    default_account: str = "root"
    max_array_size: int = 1001
    first_job_id: int = 1
    kill_wait_s: int = 30
    accounting_lag_s: float = 0.0
    extra_conf: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "slurm_version", normalize_version(self.slurm_version))
        if self.select_type_parameters not in SELECT_PARAMETERS:
            raise ValueError(f"select_type_parameters {self.select_type_parameters!r} is not one of "
                             f"{', '.join(SELECT_PARAMETERS)}")
        if self.def_mem_per_cpu_mb is not None and self.def_mem_per_node_mb is not None:
            raise ValueError("set def_mem_per_cpu_mb or def_mem_per_node_mb, not both (slurm.conf refuses both)")
        if not self.partitions or sum(p.default for p in self.partitions) != 1:
            raise ValueError(f"a site needs partitions with exactly one default, got {self.partitions!r}")
        for name, value in (("nodes", self.nodes), ("cpus_per_node", self.cpus_per_node),
                            ("real_memory_mb", self.real_memory_mb), ("max_array_size", self.max_array_size),
                            ("first_job_id", self.first_job_id)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.accounting_lag_s < 0:
            raise ValueError(f"accounting_lag_s must be >= 0, got {self.accounting_lag_s!r}")
        self.mem_default()  # refuse an unsupported memory default now, naming it

    def mem_default(self) -> str:
        """The simulator's model of a job without ``--mem``: ``node`` or ``share``."""
        share = self.real_memory_mb // self.cpus_per_node
        if self.select_type_parameters not in MEMORY_PARAMETERS:
            raise ValueError(f"select_type_parameters {self.select_type_parameters!r} does not track memory; "
                             f"the simulator models {', '.join(MEMORY_PARAMETERS)}")
        if self.def_mem_per_node_mb is not None:
            if self.def_mem_per_node_mb == self.real_memory_mb:
                return "node"
            raise ValueError(f"def_mem_per_node_mb={self.def_mem_per_node_mb} is not modelled; use None or "
                             f"the node's memory ({self.real_memory_mb})")
        if self.def_mem_per_cpu_mb is None:
            return "node"
        if self.def_mem_per_cpu_mb == share:
            return "share"
        raise ValueError(f"def_mem_per_cpu_mb={self.def_mem_per_cpu_mb} is not modelled; use None (whole node) "
                         f"or the node's share per CPU ({share})")

    def node_names(self, host: str | None = None) -> list[str]:
        """The simulator's node names (``c1``..), or the one real host a single-node site runs on."""
        if host is not None:
            if self.nodes != 1:
                raise ValueError(f"a real single-host Slurm runs one node; this site has {self.nodes}")
            return [host]
        return [f"c{i}" for i in range(1, self.nodes + 1)]

    def sim_kwargs(self) -> dict[str, Any]:
        """SimCluster's keyword arguments for this site (``SimCluster(site=...)`` uses them)."""
        names = self.node_names()
        return {"nodes": self.nodes, "cores_per_node": self.cpus_per_node, "mem_per_node": self.real_memory_mb,
                "cluster_name": self.cluster_name, "min_job_age_s": float(self.min_job_age_s),
                "max_array_size": self.max_array_size, "kill_wait_s": float(self.kill_wait_s),
                "first_job_id": self.first_job_id, "default_account": self.default_account,
                "prolog_flags": self.prolog_flags, "mem_default": self.mem_default(),
                "accounting": self.accounting, "partitions": [p.record(names) for p in self.partitions],
                "slurm_version": self.slurm_version, "accounting_lag_s": self.accounting_lag_s}

    def render_slurm_conf(self, host: str, *, state_dir: str = "/var/spool/slurmctld",
                          spool_dir: str = "/var/spool/slurmd", run_dir: str = "/run",
                          log_dir: str = "/var/log/slurm", dbd_host: str = "localhost") -> str:
        """slurm.conf for real Slurm on one host named ``host``, running this site as root."""
        nodes = self.node_names(host)[0]
        lines = [
            f"# Rendered from clustrix_sim.slurm.site.SlurmSite (Slurm {self.slurm_version}); do not edit.",
            f"ClusterName={self.cluster_name}", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "SchedulerType=sched/backfill", "SelectType=select/cons_tres",
            f"SelectTypeParameters={self.select_type_parameters}",
        ]
        if self.def_mem_per_cpu_mb is not None:
            lines.append(f"DefMemPerCPU={self.def_mem_per_cpu_mb}")
        if self.def_mem_per_node_mb is not None:
            lines.append(f"DefMemPerNode={self.def_mem_per_node_mb}")
        if self.prolog_flags:
            lines.append(f"PrologFlags={self.prolog_flags}")
        lines.append("JobAcctGatherType=jobacct_gather/linux")
        if self.accounting:
            lines += ["AccountingStorageType=accounting_storage/slurmdbd", f"AccountingStorageHost={dbd_host}"]
        else:
            lines.append("AccountingStorageType=accounting_storage/none")
        lines += [
            f"StateSaveLocation={state_dir}", f"SlurmdSpoolDir={spool_dir}",
            f"SlurmctldPidFile={run_dir}/slurmctld.pid", f"SlurmdPidFile={run_dir}/slurmd.pid",
            f"SlurmctldLogFile={log_dir}/slurmctld.log", f"SlurmdLogFile={log_dir}/slurmd.log",
            "ReturnToService=2", f"KillWait={self.kill_wait_s}", f"MinJobAge={self.min_job_age_s}",
            f"MaxArraySize={self.max_array_size}", f"FirstJobId={self.first_job_id}",
            *self.extra_conf,
            f"NodeName={host} CPUs={self.cpus_per_node} RealMemory={self.real_memory_mb} State=UNKNOWN",
            *(p.conf_line(nodes) for p in self.partitions),
        ]
        return "\n".join(lines) + "\n"


def write_frontend_settings(state_dir: str, slurm_version: str) -> str:
    """Record what the SLURM tools of the cluster in ``state_dir`` answer as; returns the path."""
    path = os.path.join(state_dir, FRONTEND_FILE)
    with open(path, "w") as fh:
        json.dump({"slurm_version": normalize_version(slurm_version)}, fh)
    return path
