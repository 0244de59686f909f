"""Reattach to jobs recorded in the ledger, from any process: ``attach(job_id) -> JobFuture``.

The ledger stores each submission's profile (without secrets), job directory and task ids, so a
new client rebuilds the backend, reconnects and watches the job like a fresh one: its result file
decides, so a job that finished while no client was running resolves at the first poll. Backends
built here are shared per profile, so attaching to many jobs costs one connection and one poller.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any

from clustrix.backends.ledger import Ledger, LedgerEntry
from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import JobCancelledError
from clustrix.futures import JobFuture
from clustrix.states import JobState, JobStatus

_lock = threading.Lock()
_backends: dict[tuple[str, str], RemoteBackend] = {}


def backend_for(entry: LedgerEntry, ledger: Ledger) -> RemoteBackend:
    """The (shared) backend that reaches the job of ``entry`` with its recorded profile."""
    cache_key = (str(ledger.path), json.dumps(entry.profile, sort_keys=True))
    with _lock:
        backend = _backends.get(cache_key)
        if backend is None:
            profile = Profile.from_mapping(entry.profile, source=f"ledger entry #{entry.row}")
            backend = RemoteBackend(profile, ledger=ledger)
            _backends[cache_key] = backend
        return backend


def _open(ledger: Ledger | str | os.PathLike[str] | None) -> Ledger:
    return ledger if isinstance(ledger, Ledger) else Ledger(ledger)


def attach_items(job_id: str, *, host: str | None = None, profile: str | None = None,
                 ledger: Ledger | str | os.PathLike[str] | None = None) -> list[JobFuture]:
    """One future per item of a recorded job (one for a single job), in input order."""
    ledger = _open(ledger)
    entry = ledger.find(job_id, host=host, profile=profile)
    return backend_for(entry, ledger).adopt(entry)


def attach(job_id: str, *, host: str | None = None, profile: str | None = None,
           ledger: Ledger | str | os.PathLike[str] | None = None) -> JobFuture:
    """A future for a recorded job: its value, or for an array the list of item values in order.

    ``job_id`` is the scheduler's id (``"12345"``, a pid for plain ssh) or ``"#N"`` for ledger row
    N; ``host``/``profile`` disambiguate ids seen on several clusters. An array's future raises
    the first failing item's exception; :func:`attach_items` gives the per-item futures.
    ``ledger`` is the ledger (or its path) the job was recorded in: the user's by default, a
    simulator's own for jobs run on one (``profile.ledger``).
    """
    ledger = _open(ledger)
    entry = ledger.find(job_id, host=host, profile=profile)
    items = backend_for(entry, ledger).adopt(entry)
    if not entry.is_array:
        return items[0]
    return gather(entry.job_id, items)


class _GatherHandle:
    def __init__(self, items: Sequence[JobFuture]):
        self._items = list(items)

    def cancel(self) -> bool:
        results = [f.cancel() for f in self._items if not f.done()]
        return all(results) if results else False

    def status(self) -> JobStatus:
        states = [f.status.state for f in self._items]
        if any(s is JobState.RUNNING for s in states) or any(s.is_terminal for s in states):
            return JobStatus(JobState.RUNNING, raw="ARRAY")
        return JobStatus(JobState.PENDING, raw="ARRAY")

    def stdout(self) -> str:
        return "".join(f.stdout() for f in self._items)

    def stderr(self) -> str:
        return "".join(f.stderr() for f in self._items)


def gather(job_id: str, items: Sequence[JobFuture]) -> JobFuture:
    """One future over item futures: the list of their values, or the first item's failure."""
    out = JobFuture(job_id, _GatherHandle(items))
    remaining = [len(items)]
    lock = threading.Lock()

    def one_done(_: Any) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0] > 0:
                return
        if out.done():
            return
        for f in items:
            if f.cancelled():
                out.set_job_error(JobCancelledError("an item of the array was cancelled", job_id=f.job_id,
                                                    state=JobState.CANCELLED.value))
                return
            exc = f.exception()
            if exc is not None:
                out.set_job_error(exc)
                return
        out.set_result([f.result() for f in items])

    for f in items:
        f.add_done_callback(one_done)
    return out
