"""A time limit finer than the scheduler counts it is rounded up there: say so, once.

SLURM keeps limits in whole minutes and PBS checks them once a minute, so ``time="2s"`` becomes a
one-minute limit and a test waiting for a two-second timeout waits a minute instead. The rounding
is the scheduler's; this module only makes it visible, naming the effective limit.
"""

from __future__ import annotations

import threading
import warnings

from clustrix import schedulers
from clustrix.config.profile import Profile
from clustrix.errors import ClustrixWarning
from clustrix.schedulers.contract import effective_time_s
from clustrix.spec import format_hms

_lock = threading.Lock()
_warned: set[tuple[str, int]] = set()


def warn_if_rounded(profile: Profile, time_s: int | None, *, what: str, stacklevel: int = 3) -> None:
    """Warn (once per scheduler and limit) when ``profile``'s scheduler rounds ``time_s`` up."""
    if time_s is None or time_s <= 0 or profile.scheduler is None:
        return
    module = schedulers.get(profile.scheduler)
    effective = effective_time_s(time_s, module.TIME_GRANULARITY_S)
    if effective == time_s:
        return
    with _lock:
        if (module.NAME, time_s) in _warned:
            return
        _warned.add((module.NAME, time_s))
    warnings.warn(
        f"{what}: time={format_hms(time_s)} is finer than {module.NAME} counts time limits "
        f"({module.TIME_GRANULARITY_S} s): the effective limit is {format_hms(effective)}; "
        f"give a multiple of {module.TIME_GRANULARITY_S} s to say what you get",
        ClustrixWarning, stacklevel=stacklevel)
