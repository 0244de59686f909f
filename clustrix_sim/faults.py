"""Fault injection: rules the controller applies to tool requests, and the client API for them.

The controller keeps a :class:`FaultRules`; every request passes through
:meth:`FaultRules.intercept` before it is served, keyed by the requesting tool's name (``sbatch``,
``squeue``...). Faults that change the model (a node failing, a preemption, purging the queue,
turning accounting off) are carried out by the engine. :class:`Faults` is the Python face of the
``fault`` protocol op, reached as ``SimCluster.faults``:

- ``fail_submissions(n=1, message=..., rc=1)``: the next ``n`` submissions fail with ``message``
  on stderr and exit code ``rc`` (the job is not created).
- ``fail_status(n=1, tools=("squeue", "sacct"), message=..., rc=1)``: the next ``n`` requests
  from those tools fail likewise.
- ``delay(tool, seconds, n=None)``: requests from ``tool`` are served ``seconds`` late
  (``n`` times, or until cleared).
- ``fail_node(name)`` / ``resume_node(name)``: the node goes down (its running jobs end
  NODE_FAIL) / comes back.
- ``preempt(job_id, requeue=False)``: a running job ends PREEMPTED, or is requeued and restarts.
- ``purge_finished()`` / ``set_min_job_age(seconds)``: finished jobs leave the queue now / after
  that many real seconds (accounting keeps them).
- ``disable_accounting()`` / ``enable_accounting()``: the accounting op fails with
  ``accounting_disabled`` (sacct prints "Slurm accounting storage is disabled", rc 1).
- ``drop_ssh_connections()``: the SSH server closes every open connection.
- ``clear()``: forget every request rule (model faults such as a down node stay).

``n=None`` means "until cleared" for the counted rules.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from clustrix_sim.controller import protocol

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
    delays: list[_Delay] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_failure(self, *, ops: Iterable[str] | None, tools: Iterable[str] | None, n: int | None,
                    message: str, rc: int, stdout: str = "") -> None:
        _check_count(n)
        if not isinstance(rc, int) or not 0 <= rc <= 255:
            raise ValueError(f"rc must be an exit code 0-255, got {rc!r}")
        stderr = message if not message or message.endswith("\n") else message + "\n"
        with self._lock:
            self.failures.append(_Failure(frozenset(ops) if ops is not None else None,
                                          frozenset(tools) if tools is not None else None, n, stderr, stdout, rc))

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

    def clear(self) -> None:
        with self._lock:
            self.failures.clear()
            self.delays.clear()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"failures": [{"ops": sorted(f.ops or []), "tools": sorted(f.tools or []),
                                  "remaining": f.remaining, "stderr": f.stderr, "rc": f.rc} for f in self.failures],
                    "delays": [{"tool": d.tool, "seconds": d.seconds, "remaining": d.remaining}
                               for d in self.delays]}


def _check_count(n: int | None) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive count or None (until cleared), got {n!r}")


class Faults:
    """Client API for fault injection on a running simulator (``SimCluster.faults``)."""

    def __init__(self, socket_path: str) -> None:
        self._socket = socket_path

    def _send(self, action: str, **params: Any) -> Any:
        return protocol.call("fault", "clustrix-sim", {"action": action, **params}, path=self._socket)

    def fail_submissions(self, n: int | None = 1, message: str = DEFAULT_SUBMIT_MESSAGE, rc: int = 1) -> None:
        """The next ``n`` submissions fail with ``message`` on stderr and exit code ``rc``."""
        self._send("fail_submissions", n=n, message=message, rc=rc)

    def fail_status(self, n: int | None = 1, tools: Iterable[str] = ("squeue", "sacct"),
                    message: str = DEFAULT_STATUS_MESSAGE, rc: int = 1) -> None:
        """The next ``n`` requests from ``tools`` fail with ``message`` and ``rc``."""
        self._send("fail_status", n=n, tools=list(tools), message=message, rc=rc)

    def delay(self, tool: str, seconds: float, n: int | None = None) -> None:
        """Serve requests from ``tool`` ``seconds`` late (``n`` times, or until cleared)."""
        self._send("delay", tool=tool, seconds=seconds, n=n)

    def fail_node(self, name: str) -> None:
        """Take node ``name`` down; its running jobs end NODE_FAIL."""
        self._send("fail_node", name=name)

    def resume_node(self, name: str) -> None:
        self._send("resume_node", name=name)

    def preempt(self, job_id: int, requeue: bool = False) -> None:
        """Preempt running job ``job_id`` (PREEMPTED, or requeued and restarted)."""
        self._send("preempt", job_id=job_id, requeue=requeue)

    def purge_finished(self) -> None:
        """Finished jobs leave the queue now (accounting keeps them)."""
        self._send("purge_finished")

    def set_min_job_age(self, seconds: float) -> None:
        """Finished jobs leave the queue ``seconds`` real seconds after they end."""
        self._send("set_min_job_age", seconds=seconds)

    def disable_accounting(self) -> None:
        self._send("disable_accounting")

    def enable_accounting(self) -> None:
        self._send("enable_accounting")

    def drop_ssh_connections(self) -> None:
        """Close every open SSH connection to the simulated login node."""
        self._send("drop_ssh_connections")

    def clear(self) -> None:
        """Forget every request rule (failures and delays)."""
        self._send("clear")

    def list(self) -> dict[str, Any]:
        """The request rules in force."""
        return self._send("list")
