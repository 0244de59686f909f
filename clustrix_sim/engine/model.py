"""The simulator's job model: plain records shared by the controller and every front end.

The controller (``clustrix_sim.controller.server``) owns and persists these records; the command-line
front ends (``clustrix_sim.slurm``, later ``clustrix_sim.pbs`` / ``clustrix_sim.sge``) receive them
over the controller protocol (``clustrix_sim.controller.protocol``) as JSON dicts and format them exactly as
the real tools do. Nothing here imports clustrix: the simulator is an independent oracle.

Vocabulary is SLURM's (it is the richest); other front ends map it to their own codes.

Clock: every time field is **simulated** epoch seconds (float). The controller's sim clock runs
``time_scale`` times faster than the wall clock from the moment the cluster was created, so with
``time_scale=600`` a 10-minute limit expires after one real second, and elapsed times shown by
``squeue``/``sacct`` are simulated durations.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Base job states (SLURM names). COMPLETING is a transient flag state the controller shows
# between a job's process exiting and its record becoming final.
PENDING = "PENDING"
RUNNING = "RUNNING"
SUSPENDED = "SUSPENDED"
COMPLETING = "COMPLETING"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"
TIMEOUT = "TIMEOUT"
NODE_FAIL = "NODE_FAIL"
PREEMPTED = "PREEMPTED"
OUT_OF_MEMORY = "OUT_OF_MEMORY"
BOOT_FAIL = "BOOT_FAIL"
DEADLINE = "DEADLINE"
REQUEUED = "REQUEUED"

ACTIVE_STATES = frozenset({PENDING, RUNNING, SUSPENDED, COMPLETING})
FINAL_STATES = frozenset(
    {COMPLETED, CANCELLED, FAILED, TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE}
)


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build a dataclass from a dict, ignoring unknown keys (forward compatible over the wire)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:  # cached: squeue builds 10,000 records per call
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Dependency:
    """One dependency clause: ``kind`` in after/afterany/afterok/afternotok/aftercorr/singleton;
    ``job_ids`` as the user wrote them (``"123"``, ``"123_4"``); ``minutes`` for ``after:id+min``."""

    kind: str
    job_ids: list[str] = field(default_factory=list)
    minutes: int = 0


@dataclass
class JobRequest:
    """What a submit tool sends: the fully parsed options (command line over env over directives).

    ``time_limit_s`` None means "the partition's default"; 0 means unlimited. ``mem_mb`` is per
    node; ``mem_per_cpu_mb`` the alternative. ``array_indices`` is the expanded index list.
    ``env`` is the environment the job starts with after ``--export`` processing (the front end
    builds it from the submitting process's environment). ``flavor_options`` carries
    scheduler-specific extras the controller stores but does not interpret.
    """

    script: str
    name: str
    user: str
    uid: int
    work_dir: str
    script_path: str | None = None
    script_args: list[str] = field(default_factory=list)
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: int = 1
    ntasks: int = 1
    cpus_per_task: int = 1
    mem_mb: int | None = None
    mem_per_cpu_mb: int | None = None
    gpus: int = 0
    time_limit_s: int | None = None
    stdout_pattern: str | None = None
    stderr_pattern: str | None = None
    open_mode: str = "truncate"
    array_indices: list[int] | None = None
    array_max_parallel: int | None = None
    array_text: str | None = None  # as the user wrote it, e.g. "0-9%2"
    dependencies: list[Dependency] = field(default_factory=list)
    dependency_any: bool = False  # True when clauses were joined by '?' (OR)
    dependency_text: str | None = None
    hold: bool = False
    requeue: bool = True
    exclusive: bool = False
    comment: str | None = None
    wckey: str | None = None
    constraint: str | None = None
    signal: str | None = None  # e.g. "USR2@90" as given to --signal
    env: dict[str, str] = field(default_factory=dict)
    submit_host: str = "login1"
    mem_whole_node: bool = False  # set by the engine: no memory asked and mem_default "node"
    flavor_options: dict[str, Any] = field(default_factory=dict)
    shell: str | None = None  # run the script with this shell, ignoring its #! line (SGE -S, queue shell)
    vmem_limit_mb: int | None = None  # RLIMIT_AS of the job's processes: allocations fail past it (SGE h_vmem)
    kill_at_once: bool = False  # time limit and cancel SIGKILL at once, no SIGTERM/KillWait (SGE h_rt, qdel)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRequest:
        data = dict(data)
        if data.get("dependencies"):
            data["dependencies"] = [_from_dict(Dependency, d) for d in data["dependencies"]]
        return _from_dict(cls, data)


@dataclass
class JobRecord:
    """One job, or one task of a job array (each task has its own record and ``job_id``).

    For an array, the first task's ``job_id`` equals ``array_job_id``; the others get their own
    ids. ``state`` is a base state above; ``reason`` a SLURM reason (``None``, ``Priority``,
    ``Resources``, ``Dependency``, ``JobHeldUser``, ``JobArrayTaskLimit``, ``NonZeroExitCode``,
    ``TimeLimit``, ``OutOfMemory``...). ``exit_code``/``exit_signal`` form SLURM's ``code:signal``;
    ``cancelled_by_uid`` gives ``CANCELLED by <uid>``. ``node_list`` is the names of allocated
    nodes in order. ``stdout_path``/``stderr_path`` are resolved once the job starts.
    ``visible_in_queue`` is False once the controller has purged it (MinJobAge or the purge fault);
    accounting keeps every record regardless.
    """

    job_id: int
    request: JobRequest
    state: str = PENDING
    reason: str = "None"
    array_job_id: int | None = None
    array_task_id: int | None = None
    submit_time: float = 0.0
    eligible_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    node_list: list[str] = field(default_factory=list)
    alloc_cpus: int = 0
    exit_code: int = 0
    exit_signal: int = 0
    cancelled_by_uid: int | None = None
    restart_count: int = 0
    priority: int = 1
    held: bool = False
    stdout_path: str | None = None
    stderr_path: str | None = None
    visible_in_queue: bool = True
    max_rss_mb: float = 0.0
    # Added by the controller (H5); defaults keep older front ends working.
    partition: str = ""  # the partition the job was placed in (resolved at submit)
    alloc_mem_mb: int = 0  # memory allocated per node while running
    alloc_gpus: int = 0  # GPUs allocated per node while running
    pid: int | None = None  # the batch script's process (and process-group) id while running
    acct_reason: str = "None"  # the last reason it could not run yet (held, dependency): sacct's

    @property
    def is_array_task(self) -> bool:
        return self.array_job_id is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        data = dict(data)
        data["request"] = JobRequest.from_dict(data["request"])
        return _from_dict(cls, data)


@dataclass
class NodeRecord:
    """A virtual compute node. ``state`` is idle/mixed/allocated/down/drained (sinfo words)."""

    name: str
    cpus: int
    mem_mb: int
    gpus: int = 0
    partitions: list[str] = field(default_factory=list)
    state: str = "idle"
    alloc_cpus: int = 0
    alloc_mem_mb: int = 0
    alloc_gpus: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeRecord:
        return _from_dict(cls, data)


@dataclass
class PartitionRecord:
    """A partition (SLURM) / queue (PBS, SGE). ``max_time_s`` None is UNLIMITED.
    ``enforce_limits`` mirrors EnforcePartLimits: reject at submit instead of pending forever.
    ``accept_unsatisfiable``: a job no node could ever hold is accepted and waits forever instead
    of being refused (Grid Engine's queues do that: the job stays ``qw``)."""

    name: str
    nodes: list[str] = field(default_factory=list)
    default: bool = False
    max_time_s: int | None = None
    default_time_s: int | None = None
    max_nodes: int | None = None
    state: str = "up"
    enforce_limits: bool = True
    accept_unsatisfiable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartitionRecord:
        return _from_dict(cls, data)


@dataclass
class ClusterConfig:
    """Everything that defines one simulated cluster; persisted in its state dir.

    ``time_scale`` is simulated seconds per real second. ``min_job_age_s`` is in **real** seconds
    (how long finished jobs stay visible in the queue). ``kill_wait_s`` is SLURM's KillWait in
    simulated seconds (the controller waits at least 0.2 real seconds). ``max_array_size`` is
    MaxArraySize (array indices must be below it). ``user`` is the login user; ``server`` the
    controller's host name as shown to tools. ``first_job_id`` is slurm.conf's FirstJobId;
    ``default_account`` the account a job gets when it names none (the user's default
    association); ``prolog_flags`` slurm.conf's PrologFlags (``Contain`` adds ``.extern`` steps);
    ``mem_default`` what a job that asks for no memory gets: ``"share"`` the node's memory share
    for its CPUs (DefMemPerCPU=RealMemory/CPUs), ``"node"`` the whole node (CR_Core_Memory with
    no DefMemPerCPU, real Slurm's default: such a job waits for Resources behind any other).
    ``accounting`` is whether finished jobs are kept
    for queries at creation (SLURM's accounting storage, PBS's ``job_history_enable``); the
    ``disable_accounting``/``enable_accounting`` faults switch it later.
    """

    flavor: str = "slurm"
    cluster_name: str = "simcluster"
    time_scale: float = 1.0
    min_job_age_s: float = 300.0
    kill_wait_s: float = 30.0
    max_array_size: int = 1001
    first_job_id: int = 1
    default_account: str = ""
    prolog_flags: str = ""
    mem_default: str = "share"
    user: str = ""
    server: str = "slurmctld"
    accounting: bool = True
    nodes: list[NodeRecord] = field(default_factory=list)
    partitions: list[PartitionRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterConfig:
        data = dict(data)
        data["nodes"] = [NodeRecord.from_dict(n) for n in data.get("nodes", [])]
        data["partitions"] = [PartitionRecord.from_dict(p) for p in data.get("partitions", [])]
        return _from_dict(cls, data)


_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_MEM_UNITS_MB = {"": 1.0, "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0 * 1024}


def parse_mem_mb(value: int | str) -> int:
    """Parse a node memory size (``16384``, ``"16G"``, ``"512M"``, ``"1T"``) into whole MB."""
    if isinstance(value, bool):
        raise ValueError(f"invalid memory size {value!r}; use megabytes or a string like '16G'")
    if isinstance(value, int):
        mb = float(value)
    else:
        m = _MEM_RE.match(str(value))
        if not m:
            raise ValueError(f"invalid memory size {value!r}; use megabytes or a string like '16G'")
        mb = float(m.group(1)) * _MEM_UNITS_MB[m.group(2).lower()]
    if mb <= 0:
        raise ValueError(f"invalid memory size {value!r}; it must be positive")
    return int(-(-mb // 1))


def make_nodes(count: int, cpus: int, mem_mb: int, gpus: int = 0, prefix: str = "c") -> list[NodeRecord]:
    """``count`` identical nodes named ``c1..cN`` (SLURM docker clusters use the same names)."""
    if count < 1 or cpus < 1 or mem_mb < 1 or gpus < 0:
        raise ValueError(f"invalid node shape: nodes={count} cpus={cpus} mem_mb={mem_mb} gpus={gpus}; "
                         "nodes, cores and memory must be positive and gpus >= 0")
    return [NodeRecord(name=f"{prefix}{i}", cpus=cpus, mem_mb=mem_mb, gpus=gpus) for i in range(1, count + 1)]


# -- what the engine's ops raise and return ------------------------------------------------------
# Here, below every op, so the ops (service, job_control, fault_injection) and the controller
# that turns them into replies share them without importing each other.


class OpError(Exception):
    """A refused request: ``kind`` and ``message`` go back to the tool (see the protocol)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def bad_request(message: str) -> OpError:
    """The refusal for a malformed request (unknown op or action, missing or wrong params)."""
    return OpError("bad_request", message)


_REQUIRED = object()


def int_param(params: dict[str, Any], key: str, *, default: Any = _REQUIRED, allow_none: bool = False) -> Any:
    """``params[key]`` checked to be an integer (not a bool); ``bad_request`` otherwise."""
    value = params.get(key, default)
    if value is _REQUIRED:
        raise bad_request(f"missing parameter {key!r}")
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"parameter {key!r} must be an integer, got {value!r}")
    return value


class RawJSON(str):
    """A reply result that is already JSON text (the controller splices it into the reply as is)."""
