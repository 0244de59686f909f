"""The cluster's state: every job, node and partition, kept in memory and mirrored to SQLite.

One lock (:attr:`ClusterState.lock`) guards it; every method here expects the caller to hold it.
Every change marks its record dirty, and :meth:`ClusterState.flush` writes the dirty records and
commits, so the engine only answers a request once the state it reports is on disk.

Replies listing jobs are assembled from cached JSON text (one string per record, refreshed when
the record changes), so listing 10,000 jobs costs string joins, not 10,000 conversions. Fields
equal to their dataclass defaults are left out of stored and wire JSON (``from_dict`` restores
them), which shrinks a 10,000-job reply several times.

Restart rule: jobs recorded RUNNING (or COMPLETING) when the controller died are requeued when
their request allows it (``--requeue``, the default) and marked NODE_FAIL otherwise; any of their
processes still alive are killed first.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from clustrix_sim.engine import scheduling
from clustrix_sim.engine.fault_accounting import AccountingLag
from clustrix_sim.engine.model import (
    COMPLETING,
    FINAL_STATES,
    NODE_FAIL,
    PENDING,
    RUNNING,
    ClusterConfig,
    JobRecord,
    JobRequest,
    NodeRecord,
    PartitionRecord,
    RawJSON,
    bad_request,
)
from clustrix_sim.engine.processes import kill_session
from clustrix_sim.engine.store import ProcEntry, Store

Allocation = tuple[str, int, int, int]  # node name, cpus, mem_mb, gpus (as scheduling hands them out)

_RECORD_FIELDS = [f for f in JobRecord.__dataclass_fields__ if f != "request"]
_MISSING = object()


def _defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


_RECORD_DEFAULTS = _defaults(JobRecord)
_REQUEST_DEFAULTS = _defaults(JobRequest)


class ClusterState:
    """The model of one cluster (see the module docstring).

    ``jobs`` holds every record ever; ``arrays`` the tasks of each array by array job id;
    ``pending`` the jobs waiting to run; ``finished_visible`` the finished jobs still shown in the
    queue, oldest first (MinJobAge removes them from the front). ``wake`` tells the engine's loop
    to run a scheduling pass now.
    """

    def __init__(self, state_dir: str, config: ClusterConfig | None,
                 log: Callable[[str], None]) -> None:
        self.state_dir = state_dir
        self.log = log
        self.lock = threading.RLock()
        self.wake = threading.Event()
        self.spool_dir = os.path.join(state_dir, "spool")  # job scripts
        os.makedirs(self.spool_dir, mode=0o700, exist_ok=True)
        self.jobs: dict[int, JobRecord] = {}
        self.arrays: dict[int, list[JobRecord]] = {}
        self.pending: dict[int, JobRecord] = {}
        self.finished_visible: dict[int, None] = {}
        self._request_id: dict[int, int] = {}  # job_id -> request row id
        self._request_json: dict[tuple[int, bool, bool, bool], str] = {}
        self._requests: dict[int, JobRequest] = {}
        self._record_json: dict[int, str] = {}
        self._dirty: set[int] = set()
        self._dirty_nodes: set[str] = set()
        self.accounting_lag = AccountingLag()  # fault: accounting sees records this late
        self.store = Store(state_dir)
        if self.store.is_empty():
            self._create(config)
        else:
            self._restore()

    # -- clock ---------------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated epoch seconds (``time_scale`` times faster than the wall clock since creation)."""
        return self.created + (time.time() - self.created) * self.cfg.time_scale

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.cfg.time_scale

    # -- loading -------------------------------------------------------------------------------
    def _create(self, config: ClusterConfig | None) -> None:
        if config is None:
            raise ValueError(f"state dir {self.state_dir} holds no cluster; give a ClusterConfig")
        self.cfg = config
        self.created = time.time()
        self.next_id = config.first_job_id
        self.accounting_enabled = bool(config.accounting)
        self.nodes = {n.name: n for n in config.nodes}
        self.parts = {p.name: p for p in config.partitions}
        self.store.set_meta("config", self.cfg.to_dict())
        self.store.set_meta("created", self.created)
        self.store.set_meta("next_job_id", self.next_id)
        self.store.set_meta("accounting_enabled", self.accounting_enabled)
        for node in self.nodes.values():
            self._dirty_nodes.add(node.name)
        for part in self.parts.values():
            self.store.save_partition(part.name, json.dumps(part.to_dict()))
        self.flush()

    def _restore(self) -> None:
        snap = self.store.load()
        self.cfg = ClusterConfig.from_dict(snap.meta["config"])
        self.created = float(snap.meta["created"])
        self.next_id = int(snap.meta["next_job_id"])
        self.accounting_enabled = bool(snap.meta.get("accounting_enabled", True))
        self.nodes = {d["name"]: NodeRecord.from_dict(d) for d in snap.nodes}
        self.parts = {d["name"]: PartitionRecord.from_dict(d) for d in snap.partitions}
        for node in self.nodes.values():  # allocations are rebuilt: nothing runs after a restart
            node.alloc_cpus = node.alloc_mem_mb = node.alloc_gpus = 0
            scheduling.refresh_node_state(node)
            self._dirty_nodes.add(node.name)
        for rid, data in snap.requests.items():
            self._requests[rid] = JobRequest.from_dict(data)
        for job_id, rid, data in snap.jobs:
            rec = JobRecord(request=self._requests[rid], **{k: v for k, v in data.items() if k in _RECORD_FIELDS})
            self._index(rec, rid)
            self._record_json[job_id] = json.dumps(data)
        self._recover(snap.procs)
        self.flush()

    def _recover(self, procs: list[ProcEntry]) -> None:
        """Apply the restart rule (module docstring) to jobs a dead controller left running."""
        for entry in procs:
            killed = kill_session(entry.pid, min_start_ticks=entry.start_ticks)
            if killed:
                self.log(f"killed {killed} leftover process(es) of job {entry.job_id}")
            self.store.delete_proc(entry.job_id)
        now = self.now()
        for rec in self.jobs.values():
            if rec.state in (RUNNING, COMPLETING):
                rec.pid = None
                if rec.request.requeue:
                    self.requeue(rec)
                else:
                    self.finalize(rec, NODE_FAIL, reason="NodeDown", end=now)
                self.touch(rec)
            elif rec.state == PENDING:
                self.pending[rec.job_id] = rec
            elif rec.state in FINAL_STATES and rec.visible_in_queue:
                self.finished_visible[rec.job_id] = None

    def _index(self, rec: JobRecord, request_id: int) -> None:
        self.jobs[rec.job_id] = rec
        self._request_id[rec.job_id] = request_id
        if rec.array_job_id is not None:
            self.arrays.setdefault(rec.array_job_id, []).append(rec)

    # -- changes -------------------------------------------------------------------------------
    def add_submission(self, request: JobRequest, records: list[JobRecord]) -> None:
        """Record a validated submission: its request once, and one pending record per job/task."""
        first = records[0].job_id
        self.next_id = first + len(records)
        self.store.set_meta("next_job_id", self.next_id)
        self._requests[first] = request
        self.store.save_request(first, json.dumps(request.to_dict()))
        for rec in records:
            self._index(rec, first)
            self.pending[rec.job_id] = rec
            self.touch(rec)

    def touch(self, rec: JobRecord) -> None:
        self._dirty.add(rec.job_id)

    def touch_node(self, node: NodeRecord) -> None:
        self._dirty_nodes.add(node.name)

    def finalize(self, rec: JobRecord, state: str, *, reason: str = "None", exit_code: int = 0,
                 exit_signal: int = 0, end: float) -> None:
        """The job reached a final state (it stays in the queue for MinJobAge)."""
        rec.state, rec.reason, rec.end_time = state, reason, end
        rec.exit_code, rec.exit_signal = exit_code, exit_signal
        if rec.start_time is None:
            rec.start_time = end  # SLURM shows a job cancelled while pending as started when it ended
        self.pending.pop(rec.job_id, None)
        self.finished_visible[rec.job_id] = None
        self.touch(rec)
        self.wake.set()

    def requeue(self, rec: JobRecord) -> None:
        """Back to PENDING for another run (restart_count + 1)."""
        rec.state, rec.reason = PENDING, "None"
        rec.restart_count += 1
        rec.start_time = rec.end_time = None
        rec.node_list, rec.alloc_cpus, rec.alloc_mem_mb, rec.alloc_gpus = [], 0, 0, 0
        rec.exit_code = rec.exit_signal = 0
        rec.cancelled_by_uid = None
        rec.pid = None
        rec.visible_in_queue = True
        self.finished_visible.pop(rec.job_id, None)
        self.pending[rec.job_id] = rec
        self.touch(rec)
        self.wake.set()

    def release(self, allocations: tuple[Allocation, ...]) -> None:
        """Give a job's cores, memory and GPUs back to their nodes."""
        for name, cpus, mem, gpus in allocations:
            node = self.nodes.get(name)
            if node is not None:
                scheduling.release(node, cpus, mem, gpus)
                self.touch_node(node)

    def age_finished(self) -> None:
        """Finished jobs older than MinJobAge leave the queue (accounting keeps them)."""
        now = self.now()
        for job_id in list(self.finished_visible):
            rec = self.jobs[job_id]
            if rec.end_time is not None and self.real_seconds(now - rec.end_time) < self.cfg.min_job_age_s:
                break
            rec.visible_in_queue = False
            del self.finished_visible[job_id]
            self.touch(rec)

    def set_accounting(self, enabled: bool) -> None:
        self.accounting_enabled = enabled
        self.store.set_meta("accounting_enabled", enabled)

    def set_min_job_age(self, seconds: float) -> None:
        self.cfg.min_job_age_s = seconds
        self.store.set_meta("config", self.cfg.to_dict())
        self.age_finished()

    def flush(self) -> None:
        """Write every dirty record and commit."""
        if self._dirty:
            rows = []
            for job_id in self._dirty:
                rec = self.jobs[job_id]
                text = json.dumps({k: v for k in _RECORD_FIELDS
                                   if (v := getattr(rec, k)) != _RECORD_DEFAULTS.get(k, _MISSING)})
                self._record_json[job_id] = text
                self.accounting_lag.stored(job_id, text)
                rows.append((job_id, self._request_id[job_id], text))
            self.store.save_jobs(rows)
            self._dirty.clear()
        for name in self._dirty_nodes:
            self.store.save_node(name, json.dumps(self.nodes[name].to_dict()))
        self._dirty_nodes.clear()
        self.store.commit()

    def close(self) -> None:
        self.flush()
        self.store.close()

    # -- lookups -------------------------------------------------------------------------------
    def targets(self, job_id: int, task: int | None) -> list[JobRecord] | None:
        """The records a ``job_id`` (every task of an array) or ``job_id``/``task`` pair names."""
        if task is None:
            if job_id in self.arrays:
                return list(self.arrays[job_id])
            rec = self.jobs.get(job_id)
            return [rec] if rec is not None else None
        tasks = [r for r in self.arrays.get(job_id, ()) if r.array_task_id == task]
        return tasks or None

    def select(self, job_ids: Any, pool: Callable[[JobRecord], bool]) -> list[JobRecord]:
        """Records in ``pool``: all of them (``job_ids`` None), or those the ids name, by id."""
        if job_ids is None:
            return [r for r in self.jobs.values() if pool(r)]
        if not isinstance(job_ids, list) or not all(isinstance(j, int) for j in job_ids):
            raise bad_request(f"job_ids must be a list of integers or null, got {job_ids!r}")
        seen: dict[int, JobRecord] = {}
        for job_id in job_ids:
            rec = self.jobs.get(job_id)
            if rec is not None and pool(rec):
                seen[rec.job_id] = rec
            for task in self.arrays.get(job_id, ()):
                if pool(task):
                    seen[task.job_id] = task
        return [seen[k] for k in sorted(seen)]

    def job_list(self, records: list[JobRecord], params: dict[str, Any], *, lagging: bool = False) -> RawJSON:
        """The ``{"jobs": [...]}`` reply for ``records``, from cached JSON (module docstring);
        ``lagging``: as accounting sees them (:mod:`~clustrix_sim.engine.fault_accounting`)."""
        script, env = bool(params.get("include_script")), bool(params.get("include_env"))
        arrays = bool(params.get("include_array_indices"))
        self.flush()
        if lagging and self.accounting_lag.active:
            bodies = [(r, self.accounting_lag.view(r.job_id)) for r in records]
            return RawJSON('{"jobs": [' + ", ".join(self._wire(r, script, env, arrays, body) for r, body in bodies
                                                    if body is not None) + "]}")
        return RawJSON('{"jobs": [' + ", ".join(self._wire(r, script, env, arrays) for r in records) + "]}")

    def set_accounting_lag(self, seconds: float) -> None:
        self.flush()
        self.accounting_lag.set(seconds, dict(self._record_json))

    def _request_text(self, job_id: int, script: bool, env: bool, arrays: bool) -> str:
        rid = self._request_id[job_id]
        key = (rid, script, env, arrays)
        text = self._request_json.get(key)
        if text is None:
            data = {k: v for k, v in self._requests[rid].to_dict().items()
                    if v != _REQUEST_DEFAULTS.get(k, _MISSING)}
            if not script:
                data["script"] = ""
            if not env:
                data.pop("env", None)
            if not arrays:
                data.pop("array_indices", None)
            text = self._request_json[key] = json.dumps(data)
        return text

    def _wire(self, rec: JobRecord, script: bool, env: bool, arrays: bool, body: str | None = None) -> str:
        body = body if body is not None else self._record_json[rec.job_id]
        return body[:-1] + ', "request": ' + self._request_text(rec.job_id, script, env, arrays) + "}"
