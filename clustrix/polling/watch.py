"""What the poller tracks (:class:`Watch`) and the two things it reads from (status sources, files).

Kept apart from :mod:`clustrix.polling.poller` so that the result probe and the backends can name
these types without importing the poller's loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from clustrix.polling.resolution import Failed, ResultReady
from clustrix.states import JobStatus


class StatusSource(Protocol):
    """Where statuses come from: a scheduler's commands, or ``ps`` + sentinels for plain ssh."""

    has_accounting: bool

    def query(self, ids: Sequence[str]) -> dict[str, JobStatus]:
        """One batched status command for ``ids``; raises :class:`StatusQueryError`."""
        ...

    def accounting(self, ids: Sequence[str]) -> dict[str, JobStatus]:
        """Final states of jobs that left the queue (only called when ``has_accounting``)."""
        ...


class FileFetcher(Protocol):
    def get_files(self, paths: Sequence[str]) -> dict[str, bytes | None]: ...


@dataclass(frozen=True)
class WatchFiles:
    """The remote files that decide one job's (or array task's) outcome."""

    result: str
    sentinel: str
    stderr: str


@dataclass(eq=False)
class Watch:
    """One job or array task the poller tracks until it resolves.

    ``key`` is the id as the status output names it (``"123_4"``), ``query_id`` the id passed to
    the status command (the array's base id for its tasks). ``on_status`` is called from the
    poller thread whenever the status changes; ``on_done`` exactly once with the final
    :class:`ResultReady` or :class:`Failed`.
    """

    key: str
    query_id: str
    files: WatchFiles
    on_done: Callable[[ResultReady | Failed], None]
    on_status: Callable[[JobStatus], None] = lambda status: None
    status: JobStatus | None = None
    terminal_since: float | None = None
    missing_since: float | None = None
    accounting_checked: bool = False
    ended_seen: bool = False  # a probe saw its sentinel without a result (asks for one status round)
    unreadable_rounds: int = 0  # status rounds in a row whose row for this job could not be read
    done: bool = False
