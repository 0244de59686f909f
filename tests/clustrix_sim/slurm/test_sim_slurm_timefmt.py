"""Slurm time grammar and the duration formats each tool prints."""

from __future__ import annotations

import pytest

from clustrix_sim.slurm import timefmt
from clustrix_sim.slurm.timefmt import INFINITE


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("5", 5),
        ("10", 10),
        ("0", 0),
        ("1:30", 2),  # M:S, seconds round up
        ("2:00", 2),
        ("00:30:00", 30),
        ("1:5:0", 65),  # psij, not zero padded
        ("01:00:01", 61),
        ("2-3", 2 * 1440 + 180),
        ("2-3:4", 2 * 1440 + 184),
        ("2-3:4:5", 2 * 1440 + 185),
        ("5-00:00:00", 7200),
        ("INFINITE", INFINITE),
        ("unlimited", INFINITE),
        ("-1", INFINITE),
    ],
)
def test_time_str2mins(text: str, minutes: int) -> None:
    assert timefmt.time_str2mins(text) == minutes


@pytest.mark.parametrize("bad", ["", "abc", "1h", "1:2:3:4", "1-2-3", "1:", "1::", "-", "1:2-3", "1.5"])
def test_invalid_times(bad: str) -> None:
    assert timefmt.time_str2mins(bad) is None


@pytest.mark.parametrize(
    ("secs", "squeue", "sacct"),
    [
        (0, "0:00", "00:00:00"),
        (83, "1:23", "00:01:23"),
        (3723, "1:02:03", "01:02:03"),
        (86400 * 5, "5-00:00:00", "5-00:00:00"),
        (90061, "1-01:01:01", "1-01:01:01"),
    ],
)
def test_durations(secs: int, squeue: str, sacct: str) -> None:
    assert timefmt.squeue_secs(secs) == squeue
    assert timefmt.secs2time_str(secs) == sacct


def test_unlimited_and_invalid() -> None:
    assert timefmt.squeue_secs(None) == "UNLIMITED"
    assert timefmt.secs2time_str(-5) == "INVALID"
    assert timefmt.mins2time_str(30) == "00:30:00"


def test_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        assert timefmt.timestamp(1736157600) == "2025-01-06T10:00:00"
        assert timefmt.timestamp(None) == "Unknown"
        assert timefmt.timestamp(0, unknown="N/A") == "N/A"
        assert timefmt.clock_str(1736157600) == "Mon Jan  6 10:00:00 2025"
        monkeypatch.setenv("SLURM_TIME_FORMAT", "%H:%M")
        assert timefmt.timestamp(1736157600) == "10:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
