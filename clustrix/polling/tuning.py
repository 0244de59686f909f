"""The poller's tuning knobs: how often it looks, how it backs off, how long it forgives."""

from __future__ import annotations

from dataclasses import dataclass, field

from clustrix.polling.resolution import GracePolicy

STATUS_INTERVALS = 4
"""Default gap between status rounds, in poll intervals, when a result probe runs every tick."""
PROBE_SPEEDUP = 2
"""A probe (one SFTP request, no scheduler, no shell) may run this many times per poll interval."""


@dataclass
class PollerConfig:
    """Tuning knobs; defaults suit a real cluster (tests shrink the grace periods)."""

    interval_s: float = 1.0
    max_interval_s: float = 30.0
    backoff: float = 1.5
    grace: GracePolicy = field(default_factory=GracePolicy)
    max_transient_failures: int = 10
    max_hard_failures: int = 3
    max_unreadable_rows: int = 3
    """Status rounds in a row whose row for one job cannot be read before that job (alone) fails."""
    status_interval_s: float | None = None
    """With a result probe: the first gap between status rounds (None: ``STATUS_INTERVALS``
    times ``interval_s``). Ignored without a probe, where every tick is a status round."""
    probe_fraction: float = 0.1
    """With a result probe: tick every this fraction of the time since anything last happened."""
    probe_interval_s: float | None = None
    """With a result probe: the shortest gap between ticks (None: ``interval_s / PROBE_SPEEDUP``)."""
    probe_files_per_s: float = 4000.0
    """With a result probe: a tick reads two files per live job or task, so with many live the
    gap between ticks grows to keep the reads under this rate (500 live tasks: 0.25 s), sparing
    the login node (and this machine's CPU) while results still arrive within a fraction of a second."""

    @property
    def first_probe_interval_s(self) -> float:
        if self.probe_interval_s is not None:
            return self.probe_interval_s
        return self.interval_s / PROBE_SPEEDUP

    @property
    def first_status_interval_s(self) -> float:
        if self.status_interval_s is not None:
            return self.status_interval_s
        return STATUS_INTERVALS * self.interval_s
