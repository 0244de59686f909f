"""Scheduling rules: submit validation, array expansion, and one scheduling pass (dependency
clauses are in :mod:`clustrix_sim.engine.dependencies`).

Pure functions over the model records (no processes, sockets or clocks of their own), so the
rules are unit-tested directly; ``clustrix_sim.engine.service`` calls them under its lock.

Policy (documented because tests and users rely on it):

- Order: priority (higher first), then job id (submit order). Array tasks are ordinary records.
- Backfill: a later job that fits on free nodes starts even while an earlier job waits. There is no
  reservation for the waiting job (the simulator does not estimate start times), so a stream of
  small jobs can delay a big one indefinitely; real SLURM's backfill reserves nodes by time limit.
- Reasons, first match wins: ``JobHeldUser``; ``PartitionTimeLimit`` / ``PartitionNodeLimit``
  (when the partition does not enforce limits at submit); ``Dependency`` /
  ``DependencyNeverSatisfied``; ``JobArrayTaskLimit``; ``PartitionDown``; then ``Resources`` for
  the first job of a partition that does not fit and ``Priority`` for later ones.
- Memory per node: ``--mem`` as given (0 = the whole node), or ``--mem-per-cpu`` x CPUs on the
  node, or when neither is given the node's memory share of the allocated CPUs (DefMemPerCPU).
  Only an explicit request is enforced at run time. ``gpus`` are per node.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from clustrix_sim.engine.dependencies import JobIndex, dependency_state  # noqa: F401 - re-exported
from clustrix_sim.engine.model import (
    PENDING,
    ClusterConfig,
    JobRecord,
    JobRequest,
    NodeRecord,
    PartitionRecord,
)

DEPENDENCY_KINDS = frozenset({"after", "afterany", "afterok", "afternotok", "aftercorr", "singleton"})
NODE_UP_STATES = frozenset({"idle", "mixed", "allocated"})


class SubmitError(Exception):
    """A submission the controller refuses; ``kind`` is a protocol error kind and ``message`` the
    text after ``Batch job submission failed: `` in the real tool's error."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Need:
    """What a job needs on each of its nodes."""

    nodes: int
    cpus_per_node: int
    mem_mb: int | None  # None: the node's share for the CPUs (DefMemPerCPU); 0: the whole node
    mem_per_cpu_mb: int | None
    gpus: int
    exclusive: bool

    def mem_on(self, node: NodeRecord) -> int:
        """Memory this job takes on ``node``."""
        if self.exclusive or self.mem_mb == 0:
            return node.mem_mb
        if self.mem_mb is not None:
            return self.mem_mb
        if self.mem_per_cpu_mb is not None:
            return self.mem_per_cpu_mb * self.cpus_per_node
        return node.mem_mb * self.cpus_per_node // max(node.cpus, 1)

    def enforced_mem_mb(self, node: NodeRecord) -> int | None:
        """The memory limit enforced at run time (explicit requests only)."""
        if self.mem_mb is None and self.mem_per_cpu_mb is None:
            return None
        return self.mem_on(node)


def need_of(req: JobRequest) -> Need:
    nodes = max(int(req.nodes or 1), 1)
    tasks_per_node = math.ceil(max(int(req.ntasks or 1), 1) / nodes)
    return Need(nodes=nodes, cpus_per_node=tasks_per_node * max(int(req.cpus_per_task or 1), 1),
                mem_mb=0 if req.mem_whole_node else req.mem_mb, mem_per_cpu_mb=req.mem_per_cpu_mb, gpus=max(int(req.gpus or 0), 0),
                exclusive=bool(req.exclusive))


def default_partition(parts: Mapping[str, PartitionRecord]) -> str | None:
    """The partition (PBS queue) a job lands in without one: the default, else the first."""
    default = next((p.name for p in parts.values() if p.default), None)
    if default is None and parts:
        default = next(iter(parts))
    return default


def partition_names(req: JobRequest, parts: Mapping[str, PartitionRecord]) -> list[str]:
    """The partitions a job may run in, in the order given; the default one when none given."""
    if req.partition:
        return [p.strip() for p in req.partition.split(",") if p.strip()]
    default = default_partition(parts)
    return [default] if default else []


def validate_submit(req: JobRequest, cfg: ClusterConfig, nodes: Mapping[str, NodeRecord],
                    parts: Mapping[str, PartitionRecord]) -> None:
    """Check a request and resolve its defaults in place (``partition``, ``time_limit_s``).

    Raises :class:`SubmitError` with SLURM's wording for anything the real controller refuses.
    """
    names = partition_names(req, parts)
    if not names:
        raise SubmitError("invalid_partition", "No partition specified or system default partition")
    for name in names:
        if name not in parts:
            raise SubmitError("invalid_partition", "Invalid partition name specified")
    req.partition = ",".join(names)
    part = parts[names[0]]
    if req.array_indices is not None:
        if not req.array_indices or any(i < 0 or i >= cfg.max_array_size for i in req.array_indices):
            raise SubmitError("array_spec", "Invalid job array specification")
        if req.array_max_parallel is not None and req.array_max_parallel < 1:
            raise SubmitError("array_spec", "Invalid job array specification")
    if req.nodes < 1 or req.ntasks < 1 or req.cpus_per_task < 1:
        raise SubmitError("node_count", "Node count specification invalid")
    need = need_of(req)
    members = [nodes[n] for n in part.nodes if n in nodes]
    if not part.accept_unsatisfiable and not _fits_some_node(need, members):
        if any(need.cpus_per_node <= n.cpus and need.gpus <= n.gpus for n in members):
            raise SubmitError("node_config_unavailable", "Memory specification can not be satisfied")
        raise SubmitError("node_config_unavailable", "Requested node configuration is not available")
    if part.enforce_limits and (need.nodes > len(members) or
                                (part.max_nodes is not None and need.nodes > part.max_nodes)):
        raise SubmitError("node_count", "Node count specification invalid")
    if req.time_limit_s is None:
        req.time_limit_s = part.default_time_s or part.max_time_s or 0
    if req.time_limit_s < 0:
        raise SubmitError("time_limit", "Requested time limit is invalid (missing or exceeds some limit)")
    if part.enforce_limits and _over_time(req.time_limit_s, part):
        raise SubmitError("time_limit", "Requested time limit is invalid (missing or exceeds some limit)")
    for dep in req.dependencies:
        if dep.kind not in DEPENDENCY_KINDS:
            raise SubmitError("dependency", "Job dependency problem")
        # A job the controller does not know (never was, or purged) is accepted: real Slurm
        # 22.05 lifts such a clause (sbatch -d afterok:999999 runs at once).
        if dep.kind != "singleton" and not dep.job_ids:
            raise SubmitError("dependency", "Job dependency problem")


def _over_time(limit_s: int, part: PartitionRecord) -> bool:
    return part.max_time_s is not None and (limit_s == 0 or limit_s > part.max_time_s)


def _fits_some_node(need: Need, members: Iterable[NodeRecord]) -> bool:
    for node in members:
        mem = need.mem_on(node)
        if need.cpus_per_node <= node.cpus and mem <= node.mem_mb and need.gpus <= node.gpus:
            return True
    return False


PRIORITY_BASE = 0xFFFF0000  # priority/basic: each new job gets one less than the one before
# Pending reasons of a job that is not eligible yet: it has no EligibleTime until they go.
INELIGIBLE_REASONS = frozenset({"JobHeldUser", "JobHeldAdmin", "Dependency",
                                "DependencyNeverSatisfied", "BeginTime"})


def expand(req: JobRequest, first_id: int, now: float) -> list[JobRecord]:
    """The records of one submission: one job, or one record per array index (the first task's
    id is the array job id; later tasks take the following ids). Priority as priority/basic
    gives it: decreasing in submission order, shared by an array's tasks."""
    priority = 0 if req.hold else max(PRIORITY_BASE - first_id, 1)
    eligible = None if (req.hold or req.dependencies) else now  # set by the first schedule pass
    acct_reason = "JobHeldUser" if req.hold else "None"
    if req.array_indices is None:
        return [JobRecord(job_id=first_id, request=req, submit_time=now, eligible_time=eligible,
                          acct_reason=acct_reason,
                          partition=req.partition.split(",")[0], held=req.hold, priority=priority,
                          reason="JobHeldUser" if req.hold else "None")]
    return [JobRecord(job_id=first_id + k, request=req, array_job_id=first_id, array_task_id=index,
                      submit_time=now, eligible_time=eligible, acct_reason=acct_reason,
                      partition=req.partition.split(",")[0],
                      held=req.hold, priority=priority, reason="JobHeldUser" if req.hold else "None")
            for k, index in enumerate(req.array_indices)]


@dataclass(frozen=True)
class Start:
    """A scheduling decision: start ``job_id`` in ``partition`` with these allocations, each
    ``(node name, cpus, mem_mb, gpus)``, first node first (the batch host)."""

    job_id: int
    partition: str
    allocations: tuple[tuple[str, int, int, int], ...]

    @property
    def node_names(self) -> list[str]:
        return [a[0] for a in self.allocations]


def schedule_pass(pending: Iterable[JobRecord], nodes: Mapping[str, NodeRecord],
                  parts: Mapping[str, PartitionRecord], index: JobIndex,
                  running_per_array: dict[int, int], now: float) -> list[Start]:
    """Decide which pending jobs start now; set every other pending job's reason.

    Allocations are applied to ``nodes`` (alloc_* fields) as decisions are made, so the caller
    must start every returned job or give the resources back.
    """
    starts: list[Start] = []
    blocked: set[str] = set()
    settled: dict[tuple[int, bool, str, int, int], str] = {}  # see _twin_key
    for rec in sorted(pending, key=lambda r: (-r.priority, r.job_id)):
        if rec.state != PENDING:
            continue
        twin = _twin_key(rec, running_per_array)
        if twin is not None and twin in settled:
            _set_reason(rec, settled[twin], now)
            continue
        _set_reason(rec, _pending_reason(rec, nodes, parts, index, running_per_array, now), now)
        if rec.reason != "None":
            if twin is not None:
                settled[twin] = rec.reason
            continue
        need = need_of(rec.request)
        names = [n for n in partition_names(rec.request, parts) if n in parts]
        placed = None
        for name in names:
            part = parts[name]
            if part.state != "up":
                continue
            chosen = _find_nodes(need, [nodes[n] for n in part.nodes if n in nodes])
            if chosen is not None:
                placed = (name, chosen)
                break
        if placed is None:
            first = names[0] if names else rec.partition
            rec.reason = "Priority" if first in blocked else "Resources"
            blocked.add(first)
            if twin is not None:  # a twin further down finds no more room, behind this one
                settled[twin] = "Priority"
            continue
        name, chosen = placed
        starts.append(Start(rec.job_id, name, tuple(_allocate(node, need) for node in chosen)))
        if rec.array_job_id is not None:
            running_per_array[rec.array_job_id] = running_per_array.get(rec.array_job_id, 0) + 1
    return starts


def _set_reason(rec: JobRecord, reason: str, now: float) -> None:
    rec.reason = reason
    if reason in INELIGIBLE_REASONS:
        rec.acct_reason = reason  # accounting keeps why a job could not run yet
    elif rec.eligible_time is None:
        rec.eligible_time = now


def _twin_key(rec: JobRecord, running_per_array: Mapping[int, int]) -> tuple[int, bool, str, int, int] | None:
    """What decides a waiting array task. Within one pass, once a task is not started, every later
    task with the same request, hold, partition and running siblings gets its reason (or
    "Priority" behind one that found no room: resources only shrink during a pass), for a dict
    lookup instead of every check. Tasks with dependencies (``aftercorr``, ``singleton`` look at
    the task itself) are decided one by one."""
    if rec.array_job_id is None or rec.request.dependencies:
        return None
    return (id(rec.request), rec.held, rec.partition, rec.array_job_id, running_per_array.get(rec.array_job_id, 0))


def _pending_reason(rec: JobRecord, nodes: Mapping[str, NodeRecord], parts: Mapping[str, PartitionRecord],
                    index: JobIndex, running_per_array: Mapping[int, int], now: float) -> str:
    if rec.held:
        return "JobHeldUser"
    req = rec.request
    part = parts.get(rec.partition)
    if part is not None and not part.enforce_limits:
        if _over_time(req.time_limit_s or 0, part):
            return "PartitionTimeLimit"
        if need_of(req).nodes > len(part.nodes) or (part.max_nodes is not None and req.nodes > part.max_nodes):
            return "PartitionNodeLimit"
    dep = dependency_state(rec, index, now)
    if dep != "ok":
        return "DependencyNeverSatisfied" if dep == "never" else "Dependency"
    limit = req.array_max_parallel
    if rec.array_job_id is not None and limit is not None and running_per_array.get(rec.array_job_id, 0) >= limit:
        return "JobArrayTaskLimit"
    names = [n for n in partition_names(req, parts) if n in parts]
    if names and all(parts[n].state != "up" for n in names):
        return "PartitionDown"
    return "None"


def _find_nodes(need: Need, members: list[NodeRecord]) -> list[NodeRecord] | None:
    chosen = []
    for node in members:
        if node.state not in NODE_UP_STATES:
            continue
        if need.exclusive:
            ok = node.alloc_cpus == 0 and node.alloc_mem_mb == 0 and node.alloc_gpus == 0
        else:
            ok = (node.cpus - node.alloc_cpus >= need.cpus_per_node
                  and node.mem_mb - node.alloc_mem_mb >= need.mem_on(node)
                  and node.gpus - node.alloc_gpus >= need.gpus)
        if ok:
            chosen.append(node)
            if len(chosen) == need.nodes:
                return chosen
    return None


def _allocate(node: NodeRecord, need: Need) -> tuple[str, int, int, int]:
    if need.exclusive:
        cpus, mem, gpus = node.cpus - node.alloc_cpus, node.mem_mb - node.alloc_mem_mb, node.gpus - node.alloc_gpus
    else:
        cpus, mem, gpus = need.cpus_per_node, need.mem_on(node), need.gpus
    node.alloc_cpus += cpus
    node.alloc_mem_mb += mem
    node.alloc_gpus += gpus
    refresh_node_state(node)
    return (node.name, cpus, mem, gpus)


def release(node: NodeRecord, cpus: int, mem_mb: int, gpus: int) -> None:
    """Give a finished job's resources back to ``node``."""
    node.alloc_cpus = max(node.alloc_cpus - cpus, 0)
    node.alloc_mem_mb = max(node.alloc_mem_mb - mem_mb, 0)
    node.alloc_gpus = max(node.alloc_gpus - gpus, 0)
    refresh_node_state(node)


def refresh_node_state(node: NodeRecord) -> None:
    """idle / mixed / allocated from the allocation; down and drained nodes keep their state."""
    if node.state not in NODE_UP_STATES:
        return
    if node.alloc_cpus == 0:
        node.state = "idle"
    elif node.alloc_cpus >= node.cpus:
        node.state = "allocated"
    else:
        node.state = "mixed"
