"""Fakes at the poller's pure seam, shared by test_poller.py and test_poller_probe.py.

A clock the tests move by hand, a status source that records every query, and the callbacks of
watched jobs collected per key (each ``on_done`` must fire exactly once).
"""

from __future__ import annotations

from clustrix.errors import StatusQueryError
from clustrix.polling.resolution import Failed, ResultReady
from clustrix.polling.watch import Watch, WatchFiles
from clustrix.states import JobState, JobStatus


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FakeSource:
    def __init__(self, *, has_accounting: bool = False) -> None:
        self.statuses: dict[str, JobStatus] = {}
        self.accounting_statuses: dict[str, JobStatus] = {}
        self.has_accounting = has_accounting
        self.queries: list[list[str]] = []
        self.accounting_queries: list[list[str]] = []
        self.fail_next: list[StatusQueryError] = []

    def query(self, ids):
        self.queries.append(list(ids))
        if self.fail_next:
            raise self.fail_next.pop(0)
        return dict(self.statuses)

    def accounting(self, ids):
        self.accounting_queries.append(list(ids))
        return dict(self.accounting_statuses)


class Outcomes:
    def __init__(self) -> None:
        self.done: dict[str, ResultReady | Failed] = {}
        self.statuses: dict[str, list[JobState]] = {}

    def watch(self, key: str, query_id: str | None = None, files: WatchFiles | None = None) -> Watch:
        return Watch(
            key=key, query_id=query_id or key,
            files=files or WatchFiles(f"/j/{key}/result.pkl", f"/j/{key}/exit_code", f"/j/{key}/stderr.log"),
            on_done=lambda d, k=key: self._done(k, d),
            on_status=lambda s, k=key: self.statuses.setdefault(k, []).append(s.state),
        )

    def task(self, base: str, i: int) -> Watch:
        return self.watch(f"{base}_{i}", base, WatchFiles(f"/j/{base}/result.{i}.pkl",
                                                          f"/j/{base}/exit_code.{i}", f"/j/{base}/stderr.{i}.log"))

    def _done(self, key: str, decision) -> None:
        assert key not in self.done, "on_done called twice"
        self.done[key] = decision
