"""Reading the times schedulers print: ISO local time, ``ctime()`` text, and epoch seconds.

Every scheduler prints times in the cluster's local time without a zone (``sacct``
``2025-01-06T10:00:00``; PBS, Torque and ``qacct`` ``Mon Jan  6 10:00:00 2025``), so these
readers return *naive* datetimes: the cluster's wall clock, which only the caller can place
(it knows the cluster's UTC offset). An epoch number (older Torque prints ``start_time``
that way) is an absolute instant and comes back aware, in UTC. Pure: no clock is read.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from clustrix.errors import SchedulerOutputError

NO_TIME = frozenset({"", "unknown", "none", "n/a", "(null)", "0", "--", "-/-"})
"""What schedulers print for "no such time yet" (case-insensitive)."""

_CTIME_RE = re.compile(r"^[A-Za-z]{3} +([A-Za-z]{3}) +(\d{1,2}) +(\d{1,2}):(\d{2}):(\d{2}) +(\d{4})$")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_SGE_SLASH_RE = re.compile(r"^(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)?$")


def _blank(text: str) -> bool:
    return text.strip().lower() in NO_TIME


def iso_local(text: str) -> datetime | None:
    """``2025-01-06T10:00:00`` (sacct, squeue) as a naive datetime; ``Unknown``/``None`` -> None."""
    if _blank(text):
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise SchedulerOutputError(f"unreadable time {text!r}: expected YYYY-MM-DDTHH:MM:SS "
                                   "(sacct's default SLURM_TIME_FORMAT)", text=text) from None


def ctime_local(text: str) -> datetime | None:
    """``Mon Jan  6 10:00:00 2025`` (PBS, Torque, qacct) as a naive datetime.

    Also reads an epoch number (aware, UTC) and the ``01/06/2025 10:00:00.123`` form some
    Grid Engine releases print in qacct; blank-looking values are None.
    """
    if _blank(text):
        return None
    value = text.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    m = _CTIME_RE.match(value)
    if m:
        month = _MONTHS.get(m.group(1).lower())
        if month is not None:
            try:
                return datetime(int(m.group(6)), month, int(m.group(2)), int(m.group(3)),
                                int(m.group(4)), int(m.group(5)))
            except ValueError:
                pass
    m = _SGE_SLASH_RE.match(value)
    if m:
        try:
            return datetime(int(m.group(3)), int(m.group(1)), int(m.group(2)), int(m.group(4)),
                            int(m.group(5)), int(m.group(6)))
        except ValueError:
            pass
    raise SchedulerOutputError(f"unreadable time {text!r}: expected ctime() text like "
                               "'Mon Jan  6 10:00:00 2025' or epoch seconds", text=text)
