"""Fault injection inside the controller: request rules, and the ``fault`` op that applies them.

:class:`FaultRules` holds the request-level rules: every request passes through
:meth:`FaultRules.intercept` before it is served, keyed by the requesting tool's name
(``sbatch``, ``squeue``...), and may be delayed or answered with an injected failure instead.
:class:`FaultInjection` serves the ``fault`` op: it adds and clears those rules, and carries out
the faults that change the model (a node failing, a preemption, purging the queue, accounting off,
dropping SSH connections). The actions and their arguments are documented with their client,
:class:`clustrix_sim.faults.Faults`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from clustrix_sim.engine import scheduling
from clustrix_sim.engine.cluster_state import ClusterState
from clustrix_sim.engine.job_lifecycle import REQUEUE, JobLifecycle
from clustrix_sim.engine.model import NODE_FAIL, PREEMPTED, NodeRecord, bad_request, int_param

DEFAULT_SUBMIT_MESSAGE = "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
DEFAULT_STATUS_MESSAGE = "slurm_load_jobs error: Socket timed out on send/recv operation"


@dataclass
class _Failure:
    ops: frozenset[str] | None
    tools: frozenset[str] | None
    remaining: int | None
    stderr: str
    stdout: str
    rc: int
    drop: bool = False  # (after serving) drop the SSH connections before the reply

    def matches(self, op: str, tool: str) -> bool:
        return (self.ops is None or op in self.ops) and (self.tools is None or tool in self.tools)


@dataclass
class _Delay:
    tool: str
    seconds: float
    remaining: int | None = None


@dataclass
class FaultRules:
    """Request-level fault rules; thread safe (requests are served concurrently)."""

    failures: list[_Failure] = field(default_factory=list)
    after: list[_Failure] = field(default_factory=list)  # served, then answered with a failure
    delays: list[_Delay] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_failure(self, *, ops: Iterable[str] | None, tools: Iterable[str] | None, n: int | None,
                    message: str, rc: int, stdout: str = "", after: bool = False, drop: bool = False) -> None:
        _check_count(n)
        if not isinstance(rc, int) or not 0 <= rc <= 255:
            raise ValueError(f"rc must be an exit code 0-255, got {rc!r}")
        stderr = message if not message or message.endswith("\n") else message + "\n"
        rule = _Failure(frozenset(ops) if ops is not None else None,
                        frozenset(tools) if tools is not None else None, n, stderr, stdout, rc, drop)
        with self._lock:
            (self.after if after else self.failures).append(rule)

    def add_delay(self, tool: str, seconds: float, n: int | None = None) -> None:
        _check_count(n)
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"delay seconds must be a number >= 0, got {seconds!r}")
        with self._lock:
            self.delays.append(_Delay(str(tool), float(seconds), n))

    def intercept(self, op: str, tool: str) -> tuple[float, dict[str, Any] | None]:
        """The delay to apply to this request and the fault reply to give instead of serving it."""
        delay = 0.0
        fault = None
        with self._lock:
            for rule in list(self.delays):
                if rule.tool == tool:
                    delay += rule.seconds
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self.delays.remove(rule)
            for failure in list(self.failures):
                if failure.matches(op, tool):
                    fault = {"stderr": failure.stderr, "stdout": failure.stdout, "rc": failure.rc}
                    if failure.remaining is not None:
                        failure.remaining -= 1
                        if failure.remaining <= 0:
                            self.failures.remove(failure)
                    break
        return delay, fault

    def intercept_after(self, op: str, tool: str) -> tuple[dict[str, Any] | None, bool]:
        """After serving a request: the failure reply to give instead of the result, and
        whether to drop the SSH connections first (the client never reads the reply)."""
        with self._lock:
            for rule in list(self.after):
                if rule.matches(op, tool):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self.after.remove(rule)
                    return {"stderr": rule.stderr, "stdout": rule.stdout, "rc": rule.rc}, rule.drop
        return None, False

    def clear(self) -> None:
        with self._lock:
            self.failures.clear()
            self.after.clear()
            self.delays.clear()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"failures": [{"ops": sorted(f.ops or []), "tools": sorted(f.tools or []),
                                  "remaining": f.remaining, "stderr": f.stderr, "rc": f.rc} for f in self.failures],
                    "after": [{"ops": sorted(f.ops or []), "remaining": f.remaining, "stderr": f.stderr,
                               "rc": f.rc, "drop": f.drop} for f in self.after],
                    "delays": [{"tool": d.tool, "seconds": d.seconds, "remaining": d.remaining}
                               for d in self.delays]}


def _check_count(n: int | None) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive count or None (until cleared), got {n!r}")


class FaultInjection:
    """The ``fault`` op: ``{"action": NAME, ...}`` -> ``{}`` (``list`` returns the rules).

    ``drop_ssh`` is set by the controller when it runs an SSH server.
    """

    def __init__(self, state: ClusterState, lifecycle: JobLifecycle, rules: FaultRules) -> None:
        self.state = state
        self.lifecycle = lifecycle
        self.rules = rules
        self.drop_ssh: Callable[[], object] | None = None
        self._actions: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
            "fail_submissions": self._fail_submissions, "fail_status": self._fail_status,
            "delay": self._delay, "fail_node": self._fail_node, "resume_node": self._resume_node,
            "preempt": self._preempt, "purge_finished": self._purge_finished,
            "set_min_job_age": self._set_min_job_age, "disable_accounting": self._disable_accounting,
            "enable_accounting": self._enable_accounting,
            "drop_ssh_connections": self._drop_ssh_connections, "clear": self._clear, "list": self._list,
            "accept_then_fail_submissions": self._accept_then_fail, "lag_accounting": self._lag_accounting,
            "corrupt_result": self._corrupt_result,
        }

    def apply(self, params: dict[str, Any]) -> dict[str, Any]:
        action = params.get("action")
        handler = self._actions.get(action) if isinstance(action, str) else None
        if handler is None:
            raise bad_request(f"unknown fault action {action!r}")
        try:
            return handler(params) or {}
        except ValueError as exc:
            raise bad_request(str(exc)) from exc

    def _fail_submissions(self, p: dict[str, Any]) -> None:
        self.rules.add_failure(ops={"submit"}, tools=None, n=p.get("n", 1),
                               message=str(p.get("message") or DEFAULT_SUBMIT_MESSAGE), rc=p.get("rc", 1))

    def _fail_status(self, p: dict[str, Any]) -> None:
        tools = p.get("tools") or ["squeue", "sacct"]
        self.rules.add_failure(ops=None, tools=[str(t) for t in tools], n=p.get("n", 1),
                               message=str(p.get("message") or DEFAULT_STATUS_MESSAGE), rc=p.get("rc", 1))

    def _delay(self, p: dict[str, Any]) -> None:
        self.rules.add_delay(str(p.get("tool")), p.get("seconds", 0), p.get("n"))

    def _node(self, p: dict[str, Any]) -> NodeRecord:
        node = self.state.nodes.get(str(p.get("name")))
        if node is None:
            raise ValueError(f"unknown node {p.get('name')!r}; nodes are {', '.join(self.state.nodes)}")
        return node

    def _fail_node(self, p: dict[str, Any]) -> None:
        node = self._node(p)
        node.state, node.reason = "down", "Not responding"
        self.state.touch_node(node)
        for job_id in list(self.lifecycle.running):
            rec = self.state.jobs[job_id]
            if node.name in rec.node_list:
                self.lifecycle.end(rec, NODE_FAIL, hard=True)

    def _resume_node(self, p: dict[str, Any]) -> None:
        node = self._node(p)
        node.state, node.reason = "idle", ""
        scheduling.refresh_node_state(node)
        self.state.touch_node(node)
        self.state.wake.set()

    def _preempt(self, p: dict[str, Any]) -> None:
        recs = self.state.targets(int_param(p, "job_id"), None)
        live = [r for r in recs or [] if r.job_id in self.lifecycle.running]
        if not live:
            raise ValueError(f"job {p.get('job_id')} is not running; only running jobs can be preempted")
        for rec in live:
            self.lifecycle.end(rec, REQUEUE if p.get("requeue") else PREEMPTED)

    def _purge_finished(self, p: dict[str, Any]) -> None:
        state = self.state
        for job_id in list(state.finished_visible):
            rec = state.jobs[job_id]
            rec.visible_in_queue = False
            state.touch(rec)
        state.finished_visible.clear()

    def _set_min_job_age(self, p: dict[str, Any]) -> None:
        seconds = p.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        self.state.set_min_job_age(float(seconds))

    def _disable_accounting(self, p: dict[str, Any]) -> None:
        self.state.set_accounting(False)

    def _enable_accounting(self, p: dict[str, Any]) -> None:
        self.state.set_accounting(True)

    def _drop_ssh_connections(self, p: dict[str, Any]) -> None:
        if self.drop_ssh is None:
            raise ValueError("this simulator has no SSH server (started without ssh)")
        self.drop_ssh()

    def _accept_then_fail(self, p: dict[str, Any]) -> None:
        drop = bool(p.get("drop_connection"))
        if drop and self.drop_ssh is None:
            raise ValueError("this simulator has no SSH server (started without ssh): nothing to drop")
        self.rules.add_failure(ops={"submit"}, tools=None, n=p.get("n", 1), after=True, drop=drop,
                               message=str(p.get("message") or DEFAULT_SUBMIT_MESSAGE), rc=p.get("rc", 1))

    def _lag_accounting(self, p: dict[str, Any]) -> None:
        self.state.set_accounting_lag(p.get("seconds"))

    def _corrupt_result(self, p: dict[str, Any]) -> None:
        self.lifecycle.result_faults.add(pattern=p.get("pattern"), job_id=p.get("job_id"),
                                         mode=str(p.get("mode", "flip")), source=p.get("source"), n=p.get("n", 1))

    def _clear(self, p: dict[str, Any]) -> None:
        self.rules.clear()
        self.lifecycle.result_faults.clear()

    def _list(self, p: dict[str, Any]) -> dict[str, Any]:
        return {**self.rules.describe(), "results": self.lifecycle.result_faults.describe(),
                "accounting_lag_s": self.state.accounting_lag.seconds}
