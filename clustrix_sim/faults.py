"""Fault injection on a running simulator, from Python: :class:`Faults` (``SimCluster.faults``).

:class:`Faults` is the client of the controller's ``fault`` protocol op; the controller applies
request rules to every tool request before serving it, keyed by the requesting tool's name
(``sbatch``, ``squeue``...), and carries out the faults that change the model itself
(:mod:`clustrix_sim.engine.fault_injection`). The actions:

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
- ``accept_then_fail_submissions(n=1, message=..., rc=1, drop_connection=False)``: the next ``n``
  submissions are accepted (the job exists and runs) but the client is told they failed, or with
  ``drop_connection`` loses its SSH connection before it reads the job id: an ambiguous failure.
- ``lag_accounting(seconds)``: accounting (sacct) sees every job as it was ``seconds`` ago: missing
  when younger, in its previous state when it changed since (0 turns it off).
- ``corrupt_result(pattern, job_id=None, mode="flip", source=None, n=1)``: when a matching job
  exits, before its end is recorded, the files ``pattern`` matches (a glob, relative to the
  directory of the job's stdout file) get bytes flipped, or (``mode="replace"``) the content of
  ``source``, e.g. another job's result.
- ``clear()``: forget every request and result rule (model faults such as a down node stay).

``n=None`` means "until cleared" for the counted rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clustrix_sim.controller import protocol
from clustrix_sim.engine.fault_injection import DEFAULT_STATUS_MESSAGE, DEFAULT_SUBMIT_MESSAGE

__all__ = ["DEFAULT_STATUS_MESSAGE", "DEFAULT_SUBMIT_MESSAGE", "Faults"]


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

    def accept_then_fail_submissions(self, n: int | None = 1, message: str = DEFAULT_SUBMIT_MESSAGE,
                                     rc: int = 1, drop_connection: bool = False) -> None:
        """Accept the next ``n`` submissions, then report failure (or drop the SSH connection)."""
        self._send("accept_then_fail_submissions", n=n, message=message, rc=rc, drop_connection=drop_connection)

    def accept_then_drop_connection(self, n: int | None = 1) -> None:
        """Accept the next ``n`` submissions, then drop every SSH connection before the reply."""
        self.accept_then_fail_submissions(n, drop_connection=True)

    def lag_accounting(self, seconds: float) -> None:
        """Accounting shows every job as it was ``seconds`` real seconds ago (0: no lag)."""
        self._send("lag_accounting", seconds=seconds)

    def corrupt_result(self, pattern: str = "result*.pkl", job_id: int | None = None, mode: str = "flip",
                       source: str | None = None, n: int | None = 1) -> None:
        """Damage the files ``pattern`` matches when a matching job exits (see the module doc)."""
        self._send("corrupt_result", pattern=pattern, job_id=job_id, mode=mode, source=source, n=n)

    def clear(self) -> None:
        """Forget every request and result rule (failures, delays, corruptions)."""
        self._send("clear")

    def list(self) -> dict[str, Any]:
        """The request rules in force."""
        return self._send("list")
