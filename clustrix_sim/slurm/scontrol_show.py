"""``scontrol show job|partition|node`` record text (src/scontrol/info_job.c layout)."""

from __future__ import annotations

from clustrix_sim.engine.model import JobRecord, NodeRecord, PartitionRecord
from clustrix_sim.slurm.common import partition_of, shown_priority
from clustrix_sim.slurm.hostlist import compress
from clustrix_sim.slurm.timefmt import secs2time_str, timestamp
from clustrix_sim.slurm.versions import at_least, full_version

__all__ = ["format_job", "format_node", "format_partition", "mem_str"]


def mem_str(mb: int) -> str:
    """Slurm's unit conversion for memory in MB: 2048 -> ``2G``, 1536 -> ``1536M``."""
    if mb and mb % (1024 * 1024) == 0:
        return f"{mb // (1024 * 1024)}T"
    if mb and mb % 1024 == 0:
        return f"{mb // 1024}G"
    return f"{mb}M"


def _null(text: str | None) -> str:
    return text if text else "(null)"


def _limit(rec: JobRecord) -> str:
    limit = rec.request.time_limit_s
    if limit is None:
        return "Partition_Limit"
    return "UNLIMITED" if limit == 0 else secs2time_str(int(limit))


_FINAL = frozenset({"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                    "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"})


def _clause_status(kind: str, states: list[str]) -> str | None:
    """``None`` (satisfied: Slurm drops the clause), ``unfulfilled`` or ``failed``."""
    if not states:
        return None  # the job is gone from the controller: nothing left to wait for
    done = all(s in _FINAL for s in states)
    if kind == "after":
        return None if all(s != "PENDING" for s in states) else "unfulfilled"
    if kind in ("afterok", "aftercorr"):
        if any(s in _FINAL and s != "COMPLETED" for s in states):
            return "failed"
        return None if done else "unfulfilled"
    if kind == "afternotok":
        if done:
            return "failed" if all(s == "COMPLETED" for s in states) else None
        return "unfulfilled"
    return None if done else "unfulfilled"  # afterany, singleton


def dependency_text(rec: JobRecord, dep_states: dict[str, list[str]] | None) -> str:
    """``Dependency=`` as slurmctld keeps it: satisfied clauses dropped, the others marked
    ``(unfulfilled)`` or ``(failed)``; ``(null)`` when nothing is left."""
    req = rec.request
    if dep_states is None or not req.dependencies:
        return _null(req.dependency_text)
    parts = []
    for dep in req.dependencies:
        if dep.kind == "singleton":
            if rec.state == "PENDING" and rec.reason == "Dependency":
                parts.append("singleton(unfulfilled)")
            continue
        for ref in dep.job_ids:
            status = _clause_status(dep.kind, dep_states.get(ref, []))
            if status is not None:
                plus = f"+{dep.minutes}" if dep.minutes else ""
                parts.append(f"{dep.kind}:{ref}{plus}({status})")
    return ("?" if req.dependency_any else ",").join(parts) or "(null)"


def _tres(rec: JobRecord, cpus: int, node_mem_mb: int | None = None) -> str:
    req = rec.request
    nodes = len(rec.node_list) or max(req.nodes, 1)
    parts = [f"cpu={cpus}"]
    mem = req.mem_mb if req.mem_mb is not None else (
        (req.mem_per_cpu_mb or 0) * cpus if req.mem_per_cpu_mb else None)
    if mem is None and rec.alloc_mem_mb:  # the default the job got (DefMemPerCPU, whole node)
        mem = rec.alloc_mem_mb * nodes
    elif mem is None and req.mem_whole_node and node_mem_mb:
        mem = node_mem_mb * nodes
    elif mem is not None and req.mem_mb is not None:
        mem *= nodes
    if mem:
        parts.append(f"mem={mem_str(mem)}")
    parts.append(f"node={nodes}")
    parts.append(f"billing={cpus}")
    if req.gpus:
        parts.append(f"gres/gpu={req.gpus}")
    return ",".join(parts)


def _tres_lines(rec: JobRecord, cpus: int, node_mem_mb: int | None, pending: bool) -> list[str]:
    """22.05: one ``TRES=`` line; 24.11 has what was asked (``ReqTRES=``) and what was allocated
    (``AllocTRES=``, ``(null)`` until the job starts)."""
    tres = _tres(rec, cpus, node_mem_mb)
    if not at_least("24.11"):
        return [f"TRES={tres}"]
    return [f"ReqTRES={tres}", f"AllocTRES={tres if rec.node_list and not pending else '(null)'}"]


def format_job(rec: JobRecord, now: float, *, detail: bool = False, one_liner: bool = False,
               array_range: str | None = None, context: dict | None = None) -> str:
    """One ``scontrol show job`` record. ``array_range`` (``2-4%2``) marks a folded pending
    array; ``context`` is what the record alone does not say (``scontrol._job_context``)."""
    from clustrix_sim.slurm.jobenv import output_paths

    req = rec.request
    pending = rec.state == "PENDING"
    cpus = rec.alloc_cpus if (rec.alloc_cpus and not pending) else req.ntasks * req.cpus_per_task
    used = 0
    if rec.start_time is not None and not pending:
        used = max(int((rec.end_time if rec.end_time is not None else now) - rec.start_time), 0)
    end = "Unknown"
    if rec.end_time:
        end = timestamp(rec.end_time)
    elif rec.start_time and not pending and req.time_limit_s:
        end = timestamp(rec.start_time + req.time_limit_s)
    try:
        out_path, err_path = output_paths(rec)
    except ValueError:
        out_path = err_path = "(null)"
    out_path = rec.stdout_path or out_path
    err_path = rec.stderr_path or err_path
    first = f"JobId={rec.job_id}"
    if rec.array_job_id is not None:
        task = array_range if array_range is not None else str(rec.array_task_id)
        first += f" ArrayJobId={rec.array_job_id} ArrayTaskId={task}"
        if req.array_max_parallel:
            first += f" ArrayTaskThrottle={req.array_max_parallel}"
    first += f" JobName={req.name}"
    context = context or {}
    started = bool(rec.node_list)
    eligible = timestamp(rec.eligible_time) if rec.eligible_time else "Unknown"
    dependency = dependency_text(rec, context.get("dep_states"))
    node_mem_mb = context.get("node_mem_mb", {}).get(partition_of(rec))
    reason = (rec.reason or "None").replace(" ", "_")
    mem_line = "MinMemoryNode=0"
    if req.mem_mb is not None:
        mem_line = f"MinMemoryNode={mem_str(req.mem_mb)}"
    elif req.mem_per_cpu_mb is not None:
        mem_line = f"MinMemoryCPU={mem_str(req.mem_per_cpu_mb)}"
    lines = [
        first,
        f"UserId={req.user}({req.uid}) GroupId={req.user}({req.uid}) MCS_label=N/A",
        f"Priority={shown_priority(rec)} Nice=0 Account={_null(req.account)} QOS={req.qos or 'normal'}",
        f"JobState={rec.state} Reason={reason} Dependency={dependency}",
        f"Requeue={1 if req.requeue else 0} Restarts={rec.restart_count} BatchFlag=1 Reboot=0 "
        f"ExitCode={rec.exit_code}:{rec.exit_signal}",
    ]
    if detail:
        lines.append(f"DerivedExitCode={rec.exit_code}:{rec.exit_signal}")
    lines += [
        f"RunTime={secs2time_str(used)} TimeLimit={_limit(rec)} TimeMin=N/A",
        f"SubmitTime={timestamp(rec.submit_time)} EligibleTime={eligible}",
        f"AccrueTime={eligible}",
        f"StartTime={timestamp(rec.start_time) if not pending else 'Unknown'} EndTime={end} "
        f"Deadline=N/A",
        f"SuspendTime=None SecsPreSuspend=0 LastSchedEval={timestamp(rec.start_time or rec.submit_time)} "
        f"Scheduler=Main",
        f"Partition={partition_of(rec)} AllocNode:Sid={req.submit_host}:"
        f"{req.flavor_options.get('submit_sid', 0)}",
        "ReqNodeList=(null) ExcNodeList=(null)",
        f"NodeList={compress(rec.node_list) if rec.node_list else ''}",
    ]
    if rec.node_list and not pending:
        lines.append(f"BatchHost={rec.node_list[0]}")
    nodes = len(rec.node_list) or max(req.nodes, 1)
    # 24.11 shows a held job's node range (min-max): the scheduler has not looked at it yet
    node_text = f"{nodes}-{nodes}" if at_least("24.11") and pending and rec.priority == 0 else str(nodes)
    lines += [
        f"NumNodes={node_text} NumCPUs={cpus} "
        f"NumTasks={req.ntasks if started or pending else 'N/A'} CPUs/Task={req.cpus_per_task} "
        "ReqB:S:C:T=0:0:*:*",
        *_tres_lines(rec, cpus, node_mem_mb, pending),
        "Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=*",
    ]
    if detail and rec.node_list and not pending:
        per_node = max(cpus // max(len(rec.node_list), 1), 1)
        for node in rec.node_list:
            lines.append(f"  Nodes={node} CPU_IDs=0-{per_node - 1} Mem={req.mem_mb or 0} GRES=")
    lines += [
        f"MinCPUsNode={req.cpus_per_task} {mem_line} MinTmpDiskNode=0",
        f"Features={_null(req.constraint)} DelayBoot=00:00:00",
        f"OverSubscribe={'NO' if req.exclusive else 'OK'} Contiguous=0 Licenses=(null) "
        "Network=(null)",
        f"Command={_null(req.script_path)}",
        f"WorkDir={req.work_dir}",
    ]
    if req.comment:
        lines.append(f"Comment={req.comment} ")
    lines += [f"StdErr={err_path}", "StdIn=/dev/null", f"StdOut={out_path}"]
    if at_least("24.11") and req.flavor_options.get("tres-per-task"):  # an explicit --cpus-per-task
        lines.append(f"TresPerTask={req.flavor_options['tres-per-task']}")
    lines += [""] if at_least("24.11") else ["Power=", ""]  # 24.11 has no empty Power= line
    if one_liner:
        return " ".join(lines) + "\n"
    return lines[0] + "".join("\n   " + line for line in lines[1:]) + "\n\n"


def format_partition(part: PartitionRecord, nodes: list[NodeRecord], *, one_liner: bool = False) -> str:
    """One ``scontrol show partition`` record."""
    members = [n for n in nodes if n.name in part.nodes]
    max_time = "UNLIMITED" if part.max_time_s is None else secs2time_str(part.max_time_s)
    default_time = "NONE" if part.default_time_s is None else secs2time_str(part.default_time_s)
    lines = [
        f"PartitionName={part.name}",
        "AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL",
        f"AllocNodes=ALL Default={'YES' if part.default else 'NO'} QoS=N/A",
        f"DefaultTime={default_time} DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO",
        f"MaxNodes={part.max_nodes or 'UNLIMITED'} MaxTime={max_time} MinNodes=0 LLN=NO "
        "MaxCPUsPerNode=UNLIMITED",
        f"Nodes={compress(part.nodes) if part.nodes else '(null)'}",
        "PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO",
        "OverTimeLimit=NONE PreemptMode=OFF",
        f"State={part.state.upper()} TotalCPUs={sum(n.cpus for n in members)} "
        f"TotalNodes={len(members)} SelectTypeParameters=NONE",
        "JobDefaults=(null)",
        "DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED",
    ]
    if one_liner:
        return " ".join(lines) + "\n"
    return lines[0] + "".join("\n   " + line for line in lines[1:]) + "\n\n"


_NODE_STATE = {"idle": "IDLE", "mixed": "MIXED", "mix": "MIXED", "allocated": "ALLOCATED",
               "alloc": "ALLOCATED", "down": "DOWN", "drained": "IDLE+DRAIN",
               "drain": "IDLE+DRAIN", "draining": "MIXED+DRAIN"}


def format_node(node: NodeRecord, *, one_liner: bool = False) -> str:
    """One ``scontrol show node`` record."""
    gres = f"gpu:{node.gpus}" if node.gpus else "(null)"
    lines = [
        f"NodeName={node.name} Arch=x86_64 CoresPerSocket=1",
        f"CPUAlloc={node.alloc_cpus} CPUEfctv={node.cpus} CPUTot={node.cpus} CPULoad=0.00",
        "AvailableFeatures=(null)",
        "ActiveFeatures=(null)",
        f"Gres={gres}",
        f"NodeAddr={node.name} NodeHostName={node.name} Version={full_version()}",
        "OS=Linux",
        f"RealMemory={node.mem_mb} AllocMem={node.alloc_mem_mb} FreeMem=N/A "
        f"Sockets={node.cpus} Boards=1",
        f"State={_NODE_STATE.get(node.state, node.state.upper())} ThreadsPerCore=1 TmpDisk=0 "
        "Weight=1 Owner=N/A MCS_label=N/A",
        f"Partitions={','.join(node.partitions) if node.partitions else '(null)'}",
        "BootTime=None SlurmdStartTime=None",
        "LastBusyTime=None ResumeAfterTime=None",
        f"CfgTRES=cpu={node.cpus},mem={mem_str(node.mem_mb)},billing={node.cpus}"
        + (f",gres/gpu={node.gpus}" if node.gpus else ""),
        f"AllocTRES={'cpu=' + str(node.alloc_cpus) if node.alloc_cpus else ''}",
        "CurrentWatts=0 AveWatts=0",
    ]
    if node.reason:
        lines.append(f"Reason={node.reason}")
    if one_liner:
        return " ".join(lines) + "\n"
    return lines[0] + "".join("\n   " + line for line in lines[1:]) + "\n\n"
