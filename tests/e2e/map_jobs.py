"""Job functions the map tests share (sent by value: the simulated jobs cannot import tests/)."""

from __future__ import annotations

import os
import sys
import time

import cloudpickle

cloudpickle.register_pickle_by_value(sys.modules[__name__])
WAIT_DEADLINE_S = 120


class Oops(Exception):
    pass


def triple(x):
    return 3 * x


def fail_first_else_wait(go, i):
    """Item 0 fails at once; every other item runs until ``go`` exists (or is cancelled)."""
    if i == 0:
        raise Oops("item 0 failed")
    deadline = time.monotonic() + WAIT_DEADLINE_S
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise TimeoutError(go)
        time.sleep(0.02)
    return i
