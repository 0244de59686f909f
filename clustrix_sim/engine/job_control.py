"""The engine's job-control and fault operations: signal/cancel, hold, release, requeue, fault.

Mixed into :class:`clustrix_sim.engine.service.Engine`; each ``op_*`` runs with the engine lock held and
its changes are flushed by ``Engine.handle``. Result statuses per target are the protocol's:
``ok``, ``invalid_job_id``, ``already_done``, ``job_pending``, ``not_pending``,
``not_requeueable``.
"""

from __future__ import annotations

import signal
from typing import Any

from clustrix_sim.engine import processes, scheduling
from clustrix_sim.engine.job_lifecycle import REQUEUE
from clustrix_sim.engine.model import (
    ACTIVE_STATES,
    CANCELLED,
    COMPLETING,
    FINAL_STATES,
    NODE_FAIL,
    PENDING,
    PREEMPTED,
    RUNNING,
    JobRecord,
)
from clustrix_sim.faults import DEFAULT_STATUS_MESSAGE, DEFAULT_SUBMIT_MESSAGE

SIGNAL_SCOPES = ("steps", "batch", "full")


def _bad(message: str) -> Exception:
    from clustrix_sim.engine.service import OpError
    return OpError("bad_request", message)


def _int(params: dict[str, Any], key: str, *, default: Any = ..., allow_none: bool = False) -> Any:
    value = params.get(key, default)
    if value is ...:
        raise _bad(f"missing parameter {key!r}")
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"parameter {key!r} must be an integer, got {value!r}")
    return value


class JobControlMixin:
    """Job-control half of the engine (see the module docstring)."""

    def _targets(self, job_id: int, task: int | None) -> list[JobRecord] | None:
        if task is None:
            if job_id in self.arrays:
                return list(self.arrays[job_id])
            rec = self.jobs.get(job_id)
            return [rec] if rec is not None else None
        tasks = [r for r in self.arrays.get(job_id, ()) if r.array_task_id == task]
        return tasks or None

    def _target_list(self, params: dict[str, Any]) -> list[tuple[int, int | None]]:
        if "targets" in params:
            raw = params["targets"]
            if not isinstance(raw, list):
                raise _bad("targets must be a list of {job_id, task} objects")
            return [(_int(t, "job_id"), _int(t, "task", default=None, allow_none=True)) for t in raw]
        ids = params.get("job_ids")
        if not isinstance(ids, list):
            raise _bad("job_ids must be a list of integers")
        return [(_int({"j": j}, "j"), None) for j in ids]

    def op_signal(self, params: dict[str, Any]) -> dict[str, Any]:
        signum = _int(params, "signal", default=None, allow_none=True)
        uid = _int(params, "uid", default=None, allow_none=True)
        scope = params.get("scope", "steps")
        if scope not in SIGNAL_SCOPES:
            raise _bad(f"scope must be one of {', '.join(SIGNAL_SCOPES)}, got {scope!r}")
        if signum is not None and not 1 <= signum < signal.NSIG:
            raise _bad(f"signal must be 1..{signal.NSIG - 1}, got {signum}")
        cancel = signum is None or signum == signal.SIGKILL
        results = []
        for job_id, task in self._target_list(params):
            recs = self._targets(job_id, task)
            if recs is None:
                status = "invalid_job_id"
            elif not any(r.state in ACTIVE_STATES for r in recs):
                status = "already_done"
            elif cancel:
                for rec in recs:
                    self._cancel(rec, uid)
                status = "ok"
            else:
                live = [r for r in recs if r.state in (RUNNING, COMPLETING)]
                for rec in live:
                    info = self.running.get(rec.job_id)
                    if info is not None:
                        processes.signal_steps(info.pid, signum, scope=scope)
                status = "ok" if live else "job_pending"
            results.append({"job_id": job_id, "task": task, "status": status})
        return {"results": results}

    def _cancel(self, rec: JobRecord, uid: int | None) -> None:
        if rec.state == PENDING:
            rec.cancelled_by_uid = uid
            self._finalize(rec, CANCELLED, end=self.now())
            return
        info = self.running.get(rec.job_id)
        if info is not None and info.ending is None:
            info.cancel_uid = uid
            self._begin_kill(rec, info, CANCELLED)

    def op_hold(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._per_target(params, self._hold_one)

    def op_release(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._per_target(params, self._release_one)

    def op_requeue(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._per_target(params, self._requeue_one)

    def _per_target(self, params: dict[str, Any], action) -> dict[str, Any]:
        results = []
        for job_id, task in self._target_list(params):
            recs = self._targets(job_id, task)
            status = "invalid_job_id" if recs is None else action(recs)
            results.append({"job_id": job_id, "task": task, "status": status})
        return {"results": results}

    def _hold_one(self, recs: list[JobRecord]) -> str:
        pending = [r for r in recs if r.state == PENDING]
        for rec in pending:
            rec.held, rec.reason = True, "JobHeldUser"
            self._touch(rec)
        if pending:
            return "ok"
        return "already_done" if all(r.state in FINAL_STATES for r in recs) else "not_pending"

    def _release_one(self, recs: list[JobRecord]) -> str:
        for rec in recs:
            if rec.state == PENDING and rec.held:
                rec.held, rec.reason = False, "None"
                self._touch(rec)
        self.wake.set()
        return "ok"

    def _requeue_one(self, recs: list[JobRecord]) -> str:
        status = "job_pending"
        for rec in recs:
            if rec.state == PENDING:
                continue
            if not rec.request.requeue:
                status = "not_requeueable"
                continue
            info = self.running.get(rec.job_id)
            if info is not None:
                info.ending = None
                self._begin_kill(rec, info, REQUEUE)
            elif rec.state in FINAL_STATES:
                self._requeue_record(rec)
            status = "ok"
        return status

    # -- faults --------------------------------------------------------------------------------
    def op_fault(self, params: dict[str, Any]) -> dict[str, Any]:
        action = params.get("action")
        handler = getattr(self, f"_fault_{action}", None) if isinstance(action, str) else None
        if handler is None:
            raise _bad(f"unknown fault action {action!r}")
        try:
            return handler(params) or {}
        except ValueError as exc:
            raise _bad(str(exc)) from exc

    def _fault_fail_submissions(self, p: dict[str, Any]) -> None:
        self.faults.add_failure(ops={"submit"}, tools=None, n=p.get("n", 1),
                                message=str(p.get("message") or DEFAULT_SUBMIT_MESSAGE), rc=p.get("rc", 1))

    def _fault_fail_status(self, p: dict[str, Any]) -> None:
        tools = p.get("tools") or ["squeue", "sacct"]
        self.faults.add_failure(ops=None, tools=[str(t) for t in tools], n=p.get("n", 1),
                                message=str(p.get("message") or DEFAULT_STATUS_MESSAGE), rc=p.get("rc", 1))

    def _fault_delay(self, p: dict[str, Any]) -> None:
        self.faults.add_delay(str(p.get("tool")), p.get("seconds", 0), p.get("n"))

    def _node(self, p: dict[str, Any]):
        node = self.nodes.get(str(p.get("name")))
        if node is None:
            raise ValueError(f"unknown node {p.get('name')!r}; nodes are {', '.join(self.nodes)}")
        return node

    def _fault_fail_node(self, p: dict[str, Any]) -> None:
        node = self._node(p)
        node.state, node.reason = "down", "Not responding"
        self._touch_node(node)
        for job_id, info in list(self.running.items()):
            rec = self.jobs[job_id]
            if node.name in rec.node_list:
                info.ending = None
                self._begin_kill(rec, info, NODE_FAIL, hard=True)

    def _fault_resume_node(self, p: dict[str, Any]) -> None:
        node = self._node(p)
        node.state, node.reason = "idle", ""
        scheduling.refresh_node_state(node)
        self._touch_node(node)
        self.wake.set()

    def _fault_preempt(self, p: dict[str, Any]) -> None:
        recs = self._targets(_int(p, "job_id"), None)
        live = [r for r in recs or [] if r.job_id in self.running]
        if not live:
            raise ValueError(f"job {p.get('job_id')} is not running; only running jobs can be preempted")
        for rec in live:
            info = self.running[rec.job_id]
            info.ending = None
            self._begin_kill(rec, info, REQUEUE if p.get("requeue") else PREEMPTED)

    def _fault_purge_finished(self, p: dict[str, Any]) -> None:
        for job_id in list(self.finished_visible):
            rec = self.jobs[job_id]
            rec.visible_in_queue = False
            self._touch(rec)
        self.finished_visible.clear()

    def _fault_set_min_job_age(self, p: dict[str, Any]) -> None:
        seconds = p.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        self.cfg.min_job_age_s = float(seconds)
        self.store.set_meta("config", self.cfg.to_dict())
        self._age_finished()

    def _fault_disable_accounting(self, p: dict[str, Any]) -> None:
        self.accounting_enabled = False
        self.store.set_meta("accounting_enabled", False)

    def _fault_enable_accounting(self, p: dict[str, Any]) -> None:
        self.accounting_enabled = True
        self.store.set_meta("accounting_enabled", True)

    def _fault_drop_ssh_connections(self, p: dict[str, Any]) -> None:
        if self.ssh_drop is None:
            raise ValueError("this simulator has no SSH server (started without ssh)")
        self.ssh_drop()

    def _fault_clear(self, p: dict[str, Any]) -> None:
        self.faults.clear()

    def _fault_list(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.faults.describe()
