"""What a SLURM batch job sees when it starts: its ``SLURM_*`` environment and output paths.

The controller imports this lazily (``clustrix_sim.<flavor>.jobenv``) when it launches a job, so
it stays pure and light: records in, strings out.
"""

from __future__ import annotations

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.slurm.hostlist import compress
from clustrix_sim.slurm.patterns import PatternContext, expand_pattern

__all__ = ["array_step", "job_env", "output_paths", "repeat_counts", "tasks_per_node"]

DEFAULT_OUTPUT = "slurm-%j.out"
DEFAULT_ARRAY_OUTPUT = "slurm-%A_%a.out"


def repeat_counts(values: list[int]) -> str:
    """Slurm's run-length form for per-node counts: ``[2, 2, 2, 1]`` -> ``2(x3),1``."""
    out: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        run = j - i + 1
        out.append(f"{values[i]}(x{run})" if run > 1 else str(values[i]))
        i = j + 1
    return ",".join(out)


def _spread(total: int, nodes: int) -> list[int]:
    """Block distribution: the first nodes take the remainder (Slurm's default layout)."""
    nodes = max(nodes, 1)
    base, extra = divmod(max(total, 0), nodes)
    return [base + (1 if i < extra else 0) for i in range(nodes)]


def tasks_per_node(record: JobRecord) -> list[int]:
    """Tasks placed on each allocated node, in node order."""
    req = record.request
    count = len(record.node_list) or max(req.nodes, 1)
    return _spread(max(req.ntasks, 1), count)


def array_step(indices: list[int]) -> int:
    """The stride of an arithmetic index list (``0,4,8`` -> 4); 1 for anything irregular."""
    ordered = sorted(set(indices))
    if len(ordered) < 2:
        return 1
    step = ordered[1] - ordered[0]
    if all(b - a == step for a, b in zip(ordered, ordered[1:], strict=False)):
        return step
    return 1


def job_env(record: JobRecord, cluster_name: str) -> dict[str, str]:
    """The ``SLURM_*`` variables a batch script starts with (merged by the controller over the
    environment ``--export`` selected)."""
    req = record.request
    nodes = list(record.node_list)
    num_nodes = len(nodes) or max(req.nodes, 1)
    nodelist = compress(nodes) if nodes else ""
    partition = (req.partition or "").split(",")[0]
    cpus = record.alloc_cpus or max(req.ntasks, 1) * max(req.cpus_per_task, 1)
    submit_dir = str(req.flavor_options.get("submit_dir") or req.work_dir)

    env: dict[str, str] = {
        "SLURM_JOB_ID": str(record.job_id),
        "SLURM_JOBID": str(record.job_id),
        "SLURM_JOB_NAME": req.name,
        "SLURM_JOB_NODELIST": nodelist,
        "SLURM_NODELIST": nodelist,
        "SLURM_JOB_NUM_NODES": str(num_nodes),
        "SLURM_NNODES": str(num_nodes),
        "SLURM_NTASKS": str(max(req.ntasks, 1)),
        "SLURM_NPROCS": str(max(req.ntasks, 1)),
        "SLURM_CPUS_PER_TASK": str(max(req.cpus_per_task, 1)),
        "SLURM_TASKS_PER_NODE": repeat_counts(tasks_per_node(record)),
        "SLURM_JOB_CPUS_PER_NODE": repeat_counts(_spread(cpus, num_nodes)),
        "SLURM_CPUS_ON_NODE": str(_spread(cpus, num_nodes)[0]),
        "SLURM_SUBMIT_DIR": submit_dir,
        "SLURM_SUBMIT_HOST": req.submit_host,
        "SLURM_JOB_PARTITION": partition,
        "SLURM_CLUSTER_NAME": cluster_name,
        "SLURMD_NODENAME": nodes[0] if nodes else "",
        "SLURM_TOPOLOGY_ADDR": nodes[0] if nodes else "",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_GTIDS": "0",
        "SLURM_JOB_USER": req.user,
        "SLURM_JOB_UID": str(req.uid),
        "SLURM_JOB_GID": str(req.uid),
        "SLURM_GET_USER_ENV": "1",
        "SLURM_PRIO_PROCESS": "0",
    }
    if req.account:
        env["SLURM_JOB_ACCOUNT"] = req.account
    if req.qos:
        env["SLURM_JOB_QOS"] = req.qos
    if req.mem_mb is not None:
        env["SLURM_MEM_PER_NODE"] = str(req.mem_mb)
    elif req.mem_per_cpu_mb is not None:
        env["SLURM_MEM_PER_CPU"] = str(req.mem_per_cpu_mb)
    if record.restart_count:
        env["SLURM_RESTART_COUNT"] = str(record.restart_count)
    if req.gpus:
        env["SLURM_GPUS"] = str(req.gpus)
        per_node = max(req.gpus // max(num_nodes, 1), 1)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(per_node))
        env["SLURM_JOB_GPUS"] = env["CUDA_VISIBLE_DEVICES"]
    if record.array_job_id is not None and record.array_task_id is not None:
        indices = list(req.array_indices or [record.array_task_id])
        env["SLURM_ARRAY_JOB_ID"] = str(record.array_job_id)
        env["SLURM_ARRAY_TASK_ID"] = str(record.array_task_id)
        env["SLURM_ARRAY_TASK_COUNT"] = str(len(indices))
        env["SLURM_ARRAY_TASK_MIN"] = str(min(indices))
        env["SLURM_ARRAY_TASK_MAX"] = str(max(indices))
        env["SLURM_ARRAY_TASK_STEP"] = str(array_step(indices))
    return env


def pattern_context(record: JobRecord) -> PatternContext:
    """The facts ``%j %A %a %x %u %N`` expand to for this record."""
    req = record.request
    return PatternContext(
        job_id=record.job_id,
        work_dir=req.work_dir,
        job_name=req.name,
        user=req.user,
        node=record.node_list[0] if record.node_list else "",
        array_job_id=record.array_job_id,
        array_task_id=record.array_task_id,
    )


def output_paths(record: JobRecord) -> tuple[str, str]:
    """Absolute (stdout, stderr) paths for the batch step.

    Defaults are ``slurm-%j.out`` (``slurm-%A_%a.out`` for array tasks); stderr shares the stdout
    file unless ``--error`` was given; relative patterns resolve against the job's work dir.
    """
    req = record.request
    default = DEFAULT_ARRAY_OUTPUT if record.array_job_id is not None else DEFAULT_OUTPUT
    out_pattern = req.stdout_pattern or default
    err_pattern = req.stderr_pattern or out_pattern
    ctx = pattern_context(record)
    return expand_pattern(out_pattern, ctx), expand_pattern(err_pattern, ctx)
