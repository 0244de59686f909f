"""The controller's model: every job, node and partition, kept in memory and mirrored to SQLite.

One lock guards the model. Requests (``handle``) and the main loop (``loop``: timers, memory
sampling, MinJobAge, scheduling passes) take it; job processes are reaped by one waiter thread
each, which also takes it to record the exit. Every change marks its record dirty, and
``_flush`` writes dirty records and commits before the lock is released, so a reply is only sent
for a state that is on disk.

Replies listing jobs are assembled from cached JSON text (one string per record, refreshed when
the record changes) so that listing 10,000 jobs costs string joins, not 10,000 conversions.

Restart rule: jobs recorded RUNNING (or COMPLETING) when the controller died are requeued when
their request allows it (``--requeue``, the default) and marked NODE_FAIL otherwise; any of their
processes still alive are killed first. ``stop()`` applies the same rule to the jobs it kills.
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
from clustrix_sim.engine.job_control import JobControlMixin
from clustrix_sim.engine.job_lifecycle import RuntimeMixin
from clustrix_sim.engine.model import (
    ACTIVE_STATES,
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
)
from clustrix_sim.engine.store import Store, read_procs
from clustrix_sim.faults import FaultRules

TICK_S = 0.03  # timers and event-driven scheduling
PASS_EVERY_S = 0.5  # full scheduling pass even without events (after:+minutes, partitions)
RSS_EVERY_S = 0.1


class OpError(Exception):
    """A refused request: ``kind`` and ``message`` go back to the tool."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class RawJSON(str):
    """A reply result that is already JSON text (spliced into the reply as is)."""


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


# Fields equal to their defaults are left out of stored and wire JSON: ``from_dict`` restores
# them, and a 10,000-job reply shrinks several times.
_RECORD_DEFAULTS = _defaults(JobRecord)
_REQUEST_DEFAULTS = _defaults(JobRequest)


class Engine(JobControlMixin, RuntimeMixin):
    """The cluster model; see the module docstring."""

    def __init__(self, state_dir: str, config: ClusterConfig | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.state_dir = state_dir
        self.log = log or (lambda _msg: None)
        self.lock = threading.RLock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.faults = FaultRules()
        self.ssh_drop: Callable[[], None] | None = None
        self.ssh_info: dict[str, Any] | None = None
        self.spool_dir = os.path.join(state_dir, "spool")
        os.makedirs(self.spool_dir, mode=0o700, exist_ok=True)
        self.jobs: dict[int, JobRecord] = {}
        self.arrays: dict[int, list[JobRecord]] = {}
        self.pending: dict[int, JobRecord] = {}
        self.finished_visible: dict[int, None] = {}
        self.running: dict[int, Any] = {}  # job_id -> engine_runtime.RunInfo
        self._request_id: dict[int, int] = {}  # job_id -> request row id
        self._request_json: dict[tuple[int, bool, bool, bool], str] = {}
        self._requests: dict[int, JobRequest] = {}
        self._record_json: dict[int, str] = {}
        self._dirty: set[int] = set()
        self._dirty_nodes: set[str] = set()
        self.store = Store(state_dir)
        self._load(config)

    # -- clock ---------------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated epoch seconds (``time_scale`` times faster than the wall clock since creation)."""
        return self.created + (time.time() - self.created) * self.cfg.time_scale

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.cfg.time_scale

    # -- loading and persistence ----------------------------------------------------------------
    def _load(self, config: ClusterConfig | None) -> None:
        if self.store.is_empty():
            if config is None:
                raise ValueError(f"state dir {self.state_dir} holds no cluster; give a ClusterConfig")
            self.cfg = config
            self.created = time.time()
            self.next_id = 1
            self.accounting_enabled = True
            self.nodes = {n.name: n for n in config.nodes}
            self.parts = {p.name: p for p in config.partitions}
            self._save_config()
            for node in self.nodes.values():
                self._dirty_nodes.add(node.name)
            for part in self.parts.values():
                self.store.save_partition(part.name, json.dumps(part.to_dict()))
            self._flush()
            return
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
        self._flush()

    def _recover(self, procs: list) -> None:
        """Apply the restart rule (module docstring) to jobs a dead controller left running."""
        from clustrix_sim.engine.processes import kill_session
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
                    self._requeue_record(rec)
                else:
                    self._finalize(rec, NODE_FAIL, reason="NodeDown", end=now)
                self._touch(rec)
            elif rec.state == PENDING:
                self.pending[rec.job_id] = rec
            elif rec.state in FINAL_STATES and rec.visible_in_queue:
                self.finished_visible[rec.job_id] = None

    def _index(self, rec: JobRecord, request_id: int) -> None:
        self.jobs[rec.job_id] = rec
        self._request_id[rec.job_id] = request_id
        if rec.array_job_id is not None:
            self.arrays.setdefault(rec.array_job_id, []).append(rec)

    def _save_config(self) -> None:
        self.store.set_meta("config", self.cfg.to_dict())
        self.store.set_meta("created", self.created)
        self.store.set_meta("next_job_id", self.next_id)
        self.store.set_meta("accounting_enabled", self.accounting_enabled)

    def _touch(self, rec: JobRecord) -> None:
        self._dirty.add(rec.job_id)

    def _touch_node(self, node: NodeRecord) -> None:
        self._dirty_nodes.add(node.name)

    def _flush(self) -> None:
        """Write every dirty record and commit (call with the lock held)."""
        if self._dirty:
            rows = []
            for job_id in self._dirty:
                rec = self.jobs[job_id]
                text = json.dumps({k: v for k in _RECORD_FIELDS
                                   if (v := getattr(rec, k)) != _RECORD_DEFAULTS.get(k, _MISSING)})
                self._record_json[job_id] = text
                rows.append((job_id, self._request_id[job_id], text))
            self.store.save_jobs(rows)
            self._dirty.clear()
        for name in self._dirty_nodes:
            self.store.save_node(name, json.dumps(self.nodes[name].to_dict()))
        self._dirty_nodes.clear()
        self.store.commit()

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

    def _wire(self, rec: JobRecord, script: bool, env: bool, arrays: bool) -> str:
        body = self._record_json[rec.job_id]
        return body[:-1] + ', "request": ' + self._request_text(rec.job_id, script, env, arrays) + "}"

    # -- submit --------------------------------------------------------------------------------
    def op_submit(self, params: dict[str, Any]) -> dict[str, Any]:
        data = params.get("request")
        if not isinstance(data, dict):
            raise OpError("bad_request", "submit needs params.request (a JobRequest dict)")
        try:
            req = JobRequest.from_dict(data)
        except TypeError as exc:
            raise OpError("bad_request", f"malformed JobRequest: {exc}") from exc
        index = scheduling.JobIndex(self.jobs, self.arrays)
        try:
            scheduling.validate_submit(req, self.cfg, self.nodes, self.parts, lambda ref: bool(index.resolve(ref)))
        except scheduling.SubmitError as exc:
            raise OpError(exc.kind, exc.message) from exc
        first = self.next_id
        records = scheduling.expand(req, first, self.now())
        self.next_id = first + len(records)
        self.store.set_meta("next_job_id", self.next_id)
        self._requests[first] = req
        self.store.save_request(first, json.dumps(req.to_dict()))
        for rec in records:
            self._index(rec, first)
            self.pending[rec.job_id] = rec
            self._touch(rec)
        self._flush()
        self.wake.set()
        return {"job_id": first}

    # -- queries -------------------------------------------------------------------------------
    def _select(self, job_ids: Any, pool: Callable[[JobRecord], bool]) -> list[JobRecord]:
        if job_ids is None:
            return [r for r in self.jobs.values() if pool(r)]
        if not isinstance(job_ids, list) or not all(isinstance(j, int) for j in job_ids):
            raise OpError("bad_request", f"job_ids must be a list of integers or null, got {job_ids!r}")
        seen: dict[int, JobRecord] = {}
        for job_id in job_ids:
            rec = self.jobs.get(job_id)
            if rec is not None and pool(rec):
                seen[rec.job_id] = rec
            for task in self.arrays.get(job_id, ()):
                if pool(task):
                    seen[task.job_id] = task
        return [seen[k] for k in sorted(seen)]

    def _job_list(self, records: list[JobRecord], params: dict[str, Any]) -> RawJSON:
        script, env = bool(params.get("include_script")), bool(params.get("include_env"))
        arrays = bool(params.get("include_array_indices"))
        self._flush()
        return RawJSON('{"jobs": [' + ", ".join(self._wire(r, script, env, arrays) for r in records) + "]}")

    def op_jobs(self, params: dict[str, Any]) -> RawJSON:
        finished = params.get("include_finished", True)
        records = self._select(params.get("job_ids"), lambda r: r.visible_in_queue and
                               (finished or r.state in ACTIVE_STATES))
        return self._job_list(records, params)

    def op_accounting(self, params: dict[str, Any]) -> RawJSON:
        if not self.accounting_enabled:
            raise OpError("accounting_disabled", "Slurm accounting storage is disabled")
        user = params.get("user")
        records = self._select(params.get("job_ids"), lambda r: user is None or r.request.user == user)
        return self._job_list(records, params)

    def op_nodes(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"nodes": [n.to_dict() for n in self.nodes.values()]}

    def op_partitions(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"partitions": [p.to_dict() for p in self.parts.values()]}

    def op_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"cluster_name": self.cfg.cluster_name, "flavor": self.cfg.flavor,
                "time_scale": self.cfg.time_scale, "now": self.now(), "server": self.cfg.server,
                "min_job_age_s": self.cfg.min_job_age_s, "user": self.cfg.user, "ssh": self.ssh_info,
                "state_dir": self.state_dir, "accounting_enabled": self.accounting_enabled}

    def op_ping(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}

    def op_stats(self, params: dict[str, Any]) -> dict[str, Any]:
        states: dict[str, int] = {}
        for rec in self.jobs.values():
            states[rec.state] = states.get(rec.state, 0) + 1
        return {"states": states, "jobs": len(self.jobs),
                "running_pids": sorted(info.pid for info in self.running.values())}

    def handle(self, op: str, params: dict[str, Any]) -> Any:
        """Serve one request (the controller has already applied request faults)."""
        method = getattr(self, f"op_{op}", None)
        if method is None or not isinstance(params, dict):
            raise OpError("bad_request", f"unknown op {op!r} or params not an object")
        with self.lock:
            try:
                return method(params)
            finally:
                self._flush()

    # -- the main loop -------------------------------------------------------------------------
    def loop(self) -> None:
        """Timers, memory sampling, MinJobAge and scheduling until ``stopping`` is set."""
        last_pass = last_rss = 0.0
        while not self.stopping.is_set():
            self.wake.wait(TICK_S)
            woke = self.wake.is_set()
            self.wake.clear()
            if self.stopping.is_set():
                break
            mono = time.monotonic()
            try:
                with self.lock:
                    self._timers(mono)
                    self._age_finished()
                    if woke or mono - last_pass >= PASS_EVERY_S:
                        last_pass = mono
                        self._schedule()
                    self._flush()
                if self.running and mono - last_rss >= RSS_EVERY_S:
                    last_rss = mono
                    self._sample_memory()
            except Exception as exc:  # noqa: BLE001 - a bug must not stop scheduling for good
                self.log(f"engine loop error: {exc!r}")
                time.sleep(TICK_S)

    def _age_finished(self) -> None:
        now = self.now()
        for job_id in list(self.finished_visible):
            rec = self.jobs[job_id]
            if rec.end_time is not None and self.real_seconds(now - rec.end_time) < self.cfg.min_job_age_s:
                break
            rec.visible_in_queue = False
            del self.finished_visible[job_id]
            self._touch(rec)

    def _schedule(self) -> None:
        candidates = [r for r in self.pending.values() if not r.held]
        if not candidates:
            return
        per_array: dict[int, int] = {}
        for job_id in self.running:
            rec = self.jobs[job_id]
            if rec.array_job_id is not None:
                per_array[rec.array_job_id] = per_array.get(rec.array_job_id, 0) + 1
        before = {r.job_id: r.reason for r in candidates}
        starts = scheduling.schedule_pass(candidates, self.nodes, self.parts,
                                          scheduling.JobIndex(self.jobs, self.arrays), per_array, self.now())
        for rec in candidates:
            if rec.reason != before[rec.job_id]:
                self._touch(rec)
        for start in starts:
            self._start(start)

    def shutdown(self) -> None:
        """Stop the loop, kill running jobs (restart rule), and close the store."""
        self.stopping.set()
        self.wake.set()
        self._kill_all()
        with self.lock:
            self._flush()
            self.store.close()


def leftover_processes(state_dir: str) -> list[int]:
    """Pids of job processes a controller recorded in ``state_dir`` that are still alive."""
    from clustrix_sim.engine.processes import session_members
    pids: list[int] = []
    for entry in read_procs(state_dir):
        pids.extend(p.pid for p in session_members(entry.pid, entry.start_ticks))
    return pids
