"""The engine: serves the protocol's ops on the cluster's state and runs the main loop.

:class:`Engine` is composed of the parts that do the work: the
:class:`~clustrix_sim.engine.cluster_state.ClusterState` (records, persistence, clock), the
:class:`~clustrix_sim.engine.job_lifecycle.JobLifecycle` (job processes from start to end),
:class:`~clustrix_sim.engine.job_control.JobControl` (signal, hold, release, requeue) and
:class:`~clustrix_sim.engine.fault_injection.FaultInjection` (the ``fault`` op). It serves
``submit`` and the queries itself.

One lock (the state's) guards the model. Requests (:meth:`Engine.handle`) and the main loop
(:meth:`Engine.loop`: timers, memory sampling, MinJobAge, scheduling passes) take it; job
processes are reaped by one waiter thread each, which also takes it to record the exit.
Dispatch never waits for the loop: a submission is scheduled before its reply is sent (jobs
that can run are already started, as slurmctld tries at submit time), and a job's exit
schedules the queue before the exit is flushed, so whoever sees the slot freed sees it refilled. Every
request's changes are flushed before its reply is sent. ``shutdown()`` applies the restart rule
to the jobs it kills (requeue, or NODE_FAIL for ``--no-requeue`` jobs).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from clustrix_sim.engine import scheduling
from clustrix_sim.engine.cluster_state import ClusterState
from clustrix_sim.engine.fault_injection import FaultInjection, FaultRules
from clustrix_sim.engine.job_control import JobControl
from clustrix_sim.engine.job_lifecycle import JobLifecycle
from clustrix_sim.engine.model import (
    ACTIVE_STATES,
    FAILED,
    ClusterConfig,
    JobRequest,
    OpError,
    RawJSON,
    bad_request,
)
from clustrix_sim.engine.timings import Timings

TICK_S = 0.03  # timers and event-driven scheduling
PASS_EVERY_S = 0.5  # full scheduling pass even without events (after:+minutes, partitions)
RSS_EVERY_S = 0.1

Op = Callable[[dict[str, Any]], Any]


class Engine:
    """One simulated cluster's controller logic; see the module docstring.

    ``faults`` are the request rules the controller applies before :meth:`handle`.
    """

    def __init__(self, state_dir: str, config: ClusterConfig | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.state_dir = state_dir
        self.log = log or (lambda _msg: None)
        self.state = ClusterState(state_dir, config, self.log)
        self.timings = Timings()
        self.lifecycle = JobLifecycle(self.state, self.timings)
        self.lifecycle.after_exit = self._dispatch  # a freed slot is filled before the exit is flushed
        self.faults = FaultRules()
        self.control = JobControl(self.state, self.lifecycle)
        self.fault_injection = FaultInjection(self.state, self.lifecycle, self.faults)
        self.ssh_info: dict[str, Any] | None = None
        self.stopping = threading.Event()
        self.requests_by_tool: dict[str, int] = {}  # served requests per tool, for ``stats``
        self._count_lock = threading.Lock()
        self._ops: dict[str, Op] = {
            "submit": self._submit, "jobs": self._jobs, "accounting": self._accounting,
            "nodes": self._nodes, "partitions": self._partitions, "info": self._info,
            "ping": self._ping, "stats": self._stats,
            "signal": self.control.signal, "hold": self.control.hold,
            "release": self.control.release, "requeue": self.control.requeue,
            "fault": self.fault_injection.apply,
        }

    @property
    def cfg(self) -> ClusterConfig:
        return self.state.cfg

    def attach_ssh(self, info: dict[str, Any], drop_connections: Callable[[], object]) -> None:
        """The controller runs an SSH server: report it in ``info``, let faults drop its connections."""
        self.ssh_info = info
        self.fault_injection.drop_ssh = drop_connections

    def count_request(self, tool: str) -> None:
        with self._count_lock:
            self.requests_by_tool[tool] = self.requests_by_tool.get(tool, 0) + 1

    def handle(self, op: str, params: dict[str, Any]) -> Any:
        """Serve one request (the controller has already applied request faults)."""
        method = self._ops.get(op)
        if method is None or not isinstance(params, dict):
            raise bad_request(f"unknown op {op!r} or params not an object")
        with self.state.lock:
            began = time.perf_counter()
            try:
                return method(params)
            finally:
                self.state.flush()
                if op != "stats":
                    self.timings.add("handling_s", time.perf_counter() - began)

    # -- submit --------------------------------------------------------------------------------
    def _submit(self, params: dict[str, Any]) -> dict[str, Any]:
        data = params.get("request")
        if not isinstance(data, dict):
            raise bad_request("submit needs params.request (a JobRequest dict)")
        try:
            req = JobRequest.from_dict(data)
        except TypeError as exc:
            raise bad_request(f"malformed JobRequest: {exc}") from exc
        state = self.state
        try:
            scheduling.validate_submit(req, state.cfg, state.nodes, state.parts)
        except scheduling.SubmitError as exc:
            if exc.kind == "node_config_unavailable":
                self._record_refused(req)
            raise OpError(exc.kind, exc.message) from exc
        first = state.next_id
        req.account = req.account or state.cfg.default_account or None
        req.mem_whole_node = (state.cfg.mem_default == "node" and req.mem_mb is None
                              and req.mem_per_cpu_mb is None)
        state.add_submission(req, scheduling.expand(req, first, state.now()))
        self._dispatch()  # start it now if it can run, as slurmctld tries at submit time
        state.flush()
        state.wake.set()
        return {"job_id": first}

    def _record_refused(self, req: JobRequest) -> None:
        """A job no node can ever run still takes a job id, and accounting keeps it as FAILED
        (1:0) that never ran, nor was ever queued (real 22.05 does this for --mem=999999)."""
        state = self.state
        req.array_indices = None  # one record, as slurmctld makes before it refuses
        rec = scheduling.expand(req, state.next_id, state.now())[0]
        state.add_submission(req, [rec])
        state.finalize(rec, FAILED, exit_code=1, end=rec.submit_time)
        rec.visible_in_queue = False
        state.finished_visible.pop(rec.job_id, None)
        state.flush()

    # -- queries -------------------------------------------------------------------------------
    def _jobs(self, params: dict[str, Any]) -> RawJSON:
        finished = params.get("include_finished", True)
        records = self.state.select(params.get("job_ids"), lambda r: r.visible_in_queue and
                                    (finished or r.state in ACTIVE_STATES))
        return self.state.job_list(records, params)

    def _accounting(self, params: dict[str, Any]) -> RawJSON:
        if not self.state.accounting_enabled:
            raise OpError("accounting_disabled", "Slurm accounting storage is disabled")
        user = params.get("user")
        records = self.state.select(params.get("job_ids"), lambda r: user is None or r.request.user == user)
        return self.state.job_list(records, params, lagging=not params.get("fresh"))

    def _nodes(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"nodes": [n.to_dict() for n in self.state.nodes.values()]}

    def _partitions(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"partitions": [p.to_dict() for p in self.state.parts.values()]}

    def _info(self, params: dict[str, Any]) -> dict[str, Any]:
        cfg = self.state.cfg
        return {"cluster_name": cfg.cluster_name, "flavor": cfg.flavor,
                "time_scale": cfg.time_scale, "now": self.state.now(), "server": cfg.server,
                "min_job_age_s": cfg.min_job_age_s, "user": cfg.user, "ssh": self.ssh_info,
                "state_dir": self.state_dir, "accounting_enabled": self.state.accounting_enabled,
                "prolog_flags": cfg.prolog_flags, "default_account": cfg.default_account,
                "default_partition": scheduling.default_partition(self.state.parts) or ""}

    def _ping(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}

    def _stats(self, params: dict[str, Any]) -> dict[str, Any]:
        states: dict[str, int] = {}
        for rec in self.state.jobs.values():
            states[rec.state] = states.get(rec.state, 0) + 1
        with self._count_lock:
            requests = dict(self.requests_by_tool)
        return {"states": states, "jobs": len(self.state.jobs), "requests_by_tool": requests,
                "running_pids": sorted(info.pid for info in self.lifecycle.running.values()),
                "timings": self.timings.snapshot()}

    # -- the main loop -------------------------------------------------------------------------
    def loop(self) -> None:
        """Timers, memory sampling, MinJobAge and scheduling until :meth:`shutdown`."""
        state = self.state
        last_pass = last_rss = 0.0
        while not self.stopping.is_set():
            state.wake.wait(TICK_S)
            woke = state.wake.is_set()
            state.wake.clear()
            if self.stopping.is_set():
                break
            mono = time.monotonic()
            try:
                with state.lock:
                    self.lifecycle.timers(mono)
                    state.age_finished()
                    if woke or mono - last_pass >= PASS_EVERY_S:
                        last_pass = mono
                        self._schedule()
                    state.flush()
                if self.lifecycle.running and mono - last_rss >= RSS_EVERY_S:
                    last_rss = mono
                    self.lifecycle.sample_memory()
            except Exception as exc:  # noqa: BLE001 - a bug must not stop scheduling for good
                self.log(f"engine loop error: {exc!r}")
                time.sleep(TICK_S)

    def _dispatch(self) -> None:
        """A scheduling pass now (lock held), unless the controller is stopping: jobs that
        shutdown requeues must wait for the next controller."""
        if not self.stopping.is_set():
            self._schedule()

    def _schedule(self) -> None:
        state = self.state
        candidates = [r for r in state.pending.values() if not r.held]
        if not candidates:
            return
        per_array: dict[int, int] = {}
        for job_id in self.lifecycle.running:
            rec = state.jobs[job_id]
            if rec.array_job_id is not None:
                per_array[rec.array_job_id] = per_array.get(rec.array_job_id, 0) + 1
        before = {r.job_id: r.reason for r in candidates}
        starts = scheduling.schedule_pass(candidates, state.nodes, state.parts,
                                          scheduling.JobIndex(state.jobs, state.arrays), per_array, state.now())
        for rec in candidates:
            if rec.reason != before[rec.job_id]:
                state.touch(rec)
        for start in starts:
            self.lifecycle.start(start)

    def shutdown(self) -> None:
        """Stop the loop, kill running jobs (restart rule), and close the store."""
        self.stopping.set()
        self.state.wake.set()
        self.lifecycle.kill_all()
        with self.state.lock:
            self.state.close()
