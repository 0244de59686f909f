"""The engine's job-control ops: signal/cancel, hold, release, requeue.

:class:`JobControl` works on the engine's state and its job lifecycle; each op runs with the
state's lock held and its changes are flushed by ``Engine.handle``. Result statuses per target
are the protocol's: ``ok``, ``invalid_job_id``, ``already_done``, ``job_pending``,
``not_pending``, ``not_requeueable``.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from clustrix_sim.engine import processes, scheduling
from clustrix_sim.engine.cluster_state import ClusterState
from clustrix_sim.engine.job_lifecycle import REQUEUE, JobLifecycle
from clustrix_sim.engine.model import (
    ACTIVE_STATES,
    CANCELLED,
    COMPLETING,
    FINAL_STATES,
    PENDING,
    RUNNING,
    JobRecord,
    bad_request,
    int_param,
)

SIGNAL_SCOPES = ("steps", "batch", "full")


class JobControl:
    """The ``signal``, ``hold``, ``release`` and ``requeue`` ops (see the module docstring)."""

    def __init__(self, state: ClusterState, lifecycle: JobLifecycle) -> None:
        self.state = state
        self.lifecycle = lifecycle

    def _target_list(self, params: dict[str, Any]) -> list[tuple[int, int | None]]:
        if "targets" in params:
            raw = params["targets"]
            if not isinstance(raw, list):
                raise bad_request("targets must be a list of {job_id, task} objects")
            return [(int_param(t, "job_id"), int_param(t, "task", default=None, allow_none=True)) for t in raw]
        ids = params.get("job_ids")
        if not isinstance(ids, list):
            raise bad_request("job_ids must be a list of integers")
        return [(int_param({"j": j}, "j"), None) for j in ids]

    def signal(self, params: dict[str, Any]) -> dict[str, Any]:
        """Cancel (no signal, or SIGKILL) or signal jobs, tasks or whole arrays."""
        signum = int_param(params, "signal", default=None, allow_none=True)
        uid = int_param(params, "uid", default=None, allow_none=True)
        scope = params.get("scope", "steps")
        if scope not in SIGNAL_SCOPES:
            raise bad_request(f"scope must be one of {', '.join(SIGNAL_SCOPES)}, got {scope!r}")
        if signum is not None and not 1 <= signum < signal.NSIG:
            raise bad_request(f"signal must be 1..{signal.NSIG - 1}, got {signum}")
        cancel = signum is None or signum == signal.SIGKILL
        hard = bool(params.get("hard", False))  # cancel with SIGKILL at once (qdel -W force)
        results = []
        for job_id, task in self._target_list(params):
            recs = self.state.targets(job_id, task)
            if recs is None:
                status = "invalid_job_id"
            elif not any(r.state in ACTIVE_STATES for r in recs):
                status = "already_done"
            elif cancel:
                for rec in recs:
                    self._cancel(rec, uid, hard=hard)
                status = "ok"
            else:
                live = [r for r in recs if r.state in (RUNNING, COMPLETING)]
                for rec in live:
                    info = self.lifecycle.running.get(rec.job_id)
                    if info is not None:
                        processes.signal_steps(info.pid, signum, scope=scope)
                status = "ok" if live else "job_pending"
            results.append({"job_id": job_id, "task": task, "status": status})
        return {"results": results}

    def _cancel(self, rec: JobRecord, uid: int | None, *, hard: bool = False) -> None:
        if rec.state == PENDING:  # the pending reason stays (squeue, scontrol show it after)
            rec.cancelled_by_uid = uid
            self.state.finalize(rec, CANCELLED, reason=rec.reason, end=self.state.now())
            return
        info = self.lifecycle.running.get(rec.job_id)
        if info is not None and info.ending is None:
            info.cancel_uid = uid
            self.lifecycle.begin_kill(rec, info, CANCELLED, hard=hard or rec.request.kill_at_once)

    def hold(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._per_target(params, self._hold_one)

    def release(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._per_target(params, self._release_one)

    def requeue(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._per_target(params, self._requeue_one)

    def _per_target(self, params: dict[str, Any], action: Callable[[list[JobRecord]], str]) -> dict[str, Any]:
        results = []
        for job_id, task in self._target_list(params):
            recs = self.state.targets(job_id, task)
            status = "invalid_job_id" if recs is None else action(recs)
            results.append({"job_id": job_id, "task": task, "status": status})
        return {"results": results}

    def _hold_one(self, recs: list[JobRecord]) -> str:
        pending = [r for r in recs if r.state == PENDING]
        for rec in pending:
            rec.held, rec.reason, rec.priority = True, "JobHeldUser", 0  # a hold zeroes priority
            self.state.touch(rec)
        if pending:
            return "ok"
        return "already_done" if all(r.state in FINAL_STATES for r in recs) else "not_pending"

    def _release_one(self, recs: list[JobRecord]) -> str:
        for rec in recs:
            if rec.state == PENDING and rec.held:
                # priority/basic gives a released job a new priority, below every other job's
                lowest = min((r.priority for r in self.state.jobs.values() if r.priority > 0),
                             default=scheduling.PRIORITY_BASE)
                rec.held, rec.reason, rec.priority = False, "None", max(lowest - 1, 1)
                self.state.touch(rec)
        self.state.wake.set()
        return "ok"

    def _requeue_one(self, recs: list[JobRecord]) -> str:
        status = "job_pending"
        for rec in recs:
            if rec.state == PENDING:
                continue
            if not rec.request.requeue:
                status = "not_requeueable"
                continue
            if rec.job_id in self.lifecycle.running:
                self.lifecycle.end(rec, REQUEUE)
            elif rec.state in FINAL_STATES:
                self.state.requeue(rec)
            status = "ok"
        return status
