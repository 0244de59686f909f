"""Accounting that lags the controller: ``sacct`` sees each job as it was ``seconds`` ago.

While a lag is set, every version of every job record the controller stores is remembered with
the (monotonic) time it was stored. The accounting op then answers from the newest version at
least ``seconds`` old: a job submitted less than ``seconds`` ago is missing, a job that changed
less than ``seconds`` ago shows its previous state. Records stored before the lag was set count
as old enough. Setting the lag to 0 turns it off and forgets the history.
"""

from __future__ import annotations

import bisect
import threading
import time


class AccountingLag:
    """Per-job history of stored record versions; thread safe."""

    def __init__(self, clock=time.monotonic) -> None:
        self.seconds = 0.0
        self._clock = clock
        self._history: dict[int, tuple[list[float], list[str]]] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.seconds > 0

    def set(self, seconds: float, current: dict[int, str]) -> None:
        """Lag by ``seconds``; ``current`` (job id -> stored record) is the history's floor."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        with self._lock:
            self.seconds = float(seconds)
            self._history = {job_id: ([float("-inf")], [text]) for job_id, text in current.items()} \
                if seconds > 0 else {}

    def stored(self, job_id: int, text: str) -> None:
        """The controller stored a new version of job ``job_id``'s record."""
        if not self.active:
            return
        with self._lock:
            times, texts = self._history.setdefault(job_id, ([], []))
            if texts and texts[-1] == text:
                return
            times.append(self._clock())
            texts.append(text)

    def view(self, job_id: int) -> str | None:
        """The record accounting shows for ``job_id`` now (None: not there yet)."""
        with self._lock:
            entry = self._history.get(job_id)
            if entry is None:
                return None
            times, texts = entry
            index = bisect.bisect_right(times, self._clock() - self.seconds) - 1
            return texts[index] if index >= 0 else None
