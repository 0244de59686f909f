"""What a PBS job sees when it starts: its output files and its ``PBS_*`` environment.

Output (qsub(1B), OpenPBS and Torque): without ``-o``/``-e`` the files are
``<PBS_O_WORKDIR>/<Job_Name>.o<seq>`` and ``.e<seq>``; a subjob's are ``.o<seq>.<index>``
(PBS Pro) or ``.o<seq>-<index>`` (Torque). A path ending in ``/`` or naming a directory gets
that default name inside it; a relative path is relative to the submission directory;
``host:`` is dropped. PBS Pro replaces ``^array_index^`` in a subjob's path; Torque appends
``-<index>`` to every subjob's path (``job_clone``). ``-j oe`` sends stderr to the output
file, ``-j eo`` stdout to the error file.

Environment: the submitter's (a login environment on the same machine), the ``PBS_O_*``
variables and ``-v`` ones qsub recorded, then ``PBS_JOBID``, ``PBS_JOBNAME``, ``PBS_QUEUE``,
``PBS_NODEFILE`` (written by the engine from :func:`job_files`), ``PBS_ENVIRONMENT=PBS_BATCH``,
``NCPUS``, ``OMP_NUM_THREADS``, ``TMPDIR``, and for subjobs ``PBS_ARRAY_INDEX`` and
``PBS_ARRAY_ID`` (PBS Pro) or ``PBS_ARRAYID`` (Torque, with ``PBS_NUM_NODES``, ``PBS_NUM_PPN``
and ``PBS_NP`` for every job).
"""

from __future__ import annotations

import os

from clustrix_sim.engine.model import JobRecord
from clustrix_sim.pbs.dialect import PBSPRO, Dialect

__all__ = ["env_for", "job_env", "job_files", "nodefile_for", "output_paths", "paths_for", "seq_of"]


def seq_of(record: JobRecord) -> int:
    return record.array_job_id if record.array_job_id is not None else record.job_id


def _resolve(given: str | None, default_name: str, submit_dir: str, record: JobRecord,
             dialect: Dialect) -> str:
    if not given:
        return os.path.join(submit_dir, default_name)
    path = given.split(":", 1)[1] if ":" in given and not given.startswith("/") else given
    if not os.path.isabs(path):
        path = os.path.normpath(os.path.join(submit_dir, path))
    if given.endswith("/") or os.path.isdir(path):
        return os.path.join(path, default_name)
    if record.array_task_id is not None:
        if dialect.name == "torque":
            path = f"{path}-{record.array_task_id}"
        else:
            path = path.replace("^array_index^", str(record.array_task_id))
    return path


def paths_for(record: JobRecord, dialect: Dialect, *, joined: bool = True) -> tuple[str, str]:
    """Absolute (stdout, stderr) of a job or subjob (the same file when joined, unless
    ``joined`` is False: ``qstat -f`` shows both paths and ``Join_Path`` separately)."""
    req = record.request
    opts = req.flavor_options
    submit_dir = str(opts.get("submit_dir") or req.work_dir)
    suffix = str(seq_of(record))
    if record.array_task_id is not None:
        suffix += f"{dialect.subjob_out_sep}{record.array_task_id}"
    out = _resolve(opts.get("output_path"), f"{req.name}.o{suffix}", submit_dir, record, dialect)
    err = _resolve(opts.get("error_path"), f"{req.name}.e{suffix}", submit_dir, record, dialect)
    join = opts.get("join") or "n" if joined else "n"
    if join == "oe":
        err = out
    elif join == "eo":
        out = err
    return out, err


def output_paths(record: JobRecord) -> tuple[str, str]:
    return paths_for(record, PBSPRO)


def env_for(record: JobRecord, dialect: Dialect) -> dict[str, str]:
    req = record.request
    opts = req.flavor_options
    server = str(opts.get("server") or "pbs-server")
    seq = seq_of(record)
    nodes = list(record.node_list) or ["localhost"]
    per_node = max(req.cpus_per_task, 1)
    if record.array_task_id is not None:
        job_id = f"{seq}[{record.array_task_id}].{server}"
    else:
        job_id = f"{seq}.{server}"
    env = {
        "PBS_JOBID": job_id,
        "PBS_JOBNAME": req.name,
        "PBS_QUEUE": record.partition or req.partition or "",
        "PBS_ENVIRONMENT": "PBS_BATCH",
        "PBS_JOBDIR": str(opts.get("home") or req.work_dir),
        "PBS_O_WORKDIR": str(opts.get("submit_dir") or req.work_dir),
        "PBS_NODENUM": "0",
        "PBS_TASKNUM": "1",
        "PBS_MOMPORT": "15003",
        "NCPUS": str(per_node),
        "OMP_NUM_THREADS": str(per_node),
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),  # noqa: S108 - the mom's default job tmpdir root
        "ENVIRONMENT": "BATCH",
    }
    if dialect.name == "torque":
        env.update(PBS_SERVER=server, PBS_NUM_NODES=str(len(nodes)), PBS_NUM_PPN=str(per_node),
                   PBS_NP=str(per_node * len(nodes)), PBS_VNODENUM="0")
        if record.array_task_id is not None:
            env["PBS_ARRAYID"] = str(record.array_task_id)
    elif record.array_task_id is not None:
        env["PBS_ARRAY_INDEX"] = str(record.array_task_id)
        env["PBS_ARRAY_ID"] = f"{seq}[].{server}"
    return env


def job_env(record: JobRecord, cluster_name: str) -> dict[str, str]:
    return env_for(record, PBSPRO)


def nodefile_for(record: JobRecord, dialect: Dialect) -> str:
    """One line per MPI rank: ``mpiprocs`` per chunk (PBS Pro), ``ppn`` per node (Torque)."""
    req = record.request
    per_node = max(int(req.flavor_options.get("mpiprocs") or 1), 1)
    if dialect.name == "torque":
        per_node = max(req.cpus_per_task, 1)
    nodes = list(record.node_list) or ["localhost"]
    return "".join(f"{node}\n" * per_node for node in nodes)


def job_files(record: JobRecord) -> dict[str, str]:
    return {"PBS_NODEFILE": nodefile_for(record, PBSPRO)}
