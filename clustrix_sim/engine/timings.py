"""Where the controller's time goes: cumulative seconds per stage, reported by the ``stats`` op.

``bench/sim_overhead.py`` reads them before and after a job to split its overhead into the
controller's handling of requests, the job's fork/exec-to-exit and the reaping/accounting of its
end. Adding a sample is a lock and two float additions; nothing here reads a clock itself.
"""

from __future__ import annotations

import threading


class Timings:
    """Cumulative seconds and sample counts per stage name (``handling_s``, ``reap_s``...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds
            self._counts[stage] = self._counts.get(stage, 0) + 1

    def snapshot(self) -> dict[str, float]:
        """``{stage: total seconds}`` plus ``{stage + "_count": samples}``."""
        with self._lock:
            out: dict[str, float] = dict(self._seconds)
            out.update({f"{stage}_count": float(n) for stage, n in self._counts.items()})
            return out
