"""Waiting helpers for tests of code that starts and kills processes (every wait has a deadline)."""

from __future__ import annotations

import os
import time

DEADLINE_S = 60


def wait_for_file(path: str, deadline_s: float = DEADLINE_S) -> str:
    """The text of ``path`` once it exists; AssertionError after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while not os.path.exists(path):
        if time.monotonic() > end:
            raise AssertionError(f"{path} did not appear within {deadline_s} s")
        time.sleep(0.02)
    with open(path) as fh:
        return fh.read()


def gone(pid: int, deadline_s: float = DEADLINE_S) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False
