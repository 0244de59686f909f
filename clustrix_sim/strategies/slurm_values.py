"""Hypothesis strategies for SLURM values as the tools print them: job ids and durations.

Public through :mod:`clustrix_sim.strategies` (import from there). Durations are rendered by the
simulator's own ``clustrix_sim.slurm.timefmt``; every value comes with its truth.

- :func:`slurm_job_ids` -> :class:`SlurmJobId` (``text``; ``truth`` = the job ids it stands for).
- :func:`slurm_time_strings` -> :class:`SlurmTime` (``text``; ``truth`` = seconds or None).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from clustrix_sim.slurm.common import array_range_text
from clustrix_sim.slurm.timefmt import secs2time_str, squeue_secs
from clustrix_sim.strategies.slurm_records import DURATIONS_S, MAX_JOB_ID

__all__ = ["ID_KINDS", "SlurmJobId", "SlurmTime", "slurm_job_ids", "slurm_time_strings"]


# --- job ids ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlurmJobId:
    """A job id as SLURM prints it, and what it means.

    ``base`` is the job (or array) id; ``tasks`` the array task indices (one for ``123_4``, all
    of a pending range for ``123_[4-9%2]``, None for a plain or hetjob id); ``throttle`` the
    ``%N`` of a range; ``het_offset`` the ``+N`` of a hetjob component; ``step`` the step name
    (``batch``, ``extern``, ``interactive``, a number) or None. ``truth`` is the job ids the text
    stands for: ``("123_4", "123_5")`` for ``123_[4-5]``.
    """

    text: str
    base: int
    tasks: tuple[int, ...] | None = None
    throttle: int | None = None
    het_offset: int | None = None
    step: str | None = None

    @property
    def truth(self) -> tuple[str, ...]:
        if self.tasks is not None:
            return tuple(f"{self.base}_{t}" for t in self.tasks)
        if self.het_offset is not None:
            return (f"{self.base}+{self.het_offset}",)
        return (str(self.base),)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.text, self.truth))


ID_KINDS = ("plain", "array_task", "array_range", "hetjob")
_STEPS = st.one_of(st.sampled_from(["batch", "extern", "interactive", "4294967294"]),
                   st.integers(0, 64).map(str))


@st.composite
def _range_text(draw: Any) -> tuple[str, tuple[int, ...]]:
    """A pending range list: the simulator's bitmap form, or ``a-b:s`` items (SLURM's stepped
    form) joined by commas; returns (text inside the brackets, sorted unique indices)."""
    if draw(st.booleans()):
        tasks = sorted(draw(st.lists(st.integers(0, 1000), min_size=1, max_size=12, unique=True)))
        return array_range_text(tasks, None)[1:-1], tuple(tasks)
    items, tasks_set = [], set()
    low = draw(st.integers(0, 50))
    for _ in range(draw(st.integers(1, 3))):
        span, step = draw(st.integers(0, 40)), draw(st.integers(1, 6))
        high = low + span
        items.append(str(low) if span == 0 else f"{low}-{high}" + (f":{step}" if step > 1 else ""))
        tasks_set.update(range(low, high + 1, step if span else 1))
        low = high + draw(st.integers(1, 20))
    return ",".join(items), tuple(sorted(tasks_set))


def slurm_job_ids(*, kinds: Sequence[str] = ID_KINDS, steps: bool = True
                  ) -> st.SearchStrategy[SlurmJobId]:
    """Job ids in every form of the fuzzing notes: ``123``, ``123_4``, ``123_[5-10%2]`` /
    ``123_[0,6,16-32:4]``, ``123+0``, optionally with a step suffix (``.batch``, ``.extern``,
    ``.interactive``, ``.0``, ``.4294967294``) when ``steps``. ``kinds`` picks among
    ``plain``, ``array_task``, ``array_range``, ``hetjob``."""
    unknown = [k for k in kinds if k not in ID_KINDS]
    if unknown or not kinds or isinstance(kinds, str):
        raise ValueError(f"unknown job id kind(s) {unknown or kinds!r}; choose from {ID_KINDS}")

    @st.composite
    def build(draw: Any) -> SlurmJobId:
        base = draw(st.integers(1, MAX_JOB_ID))
        kind = draw(st.sampled_from(tuple(kinds)))
        step = draw(st.one_of(st.none(), _STEPS)) if steps else None
        suffix = f".{step}" if step is not None else ""
        if kind == "array_task":
            task = draw(st.integers(0, 4_000_000))
            return SlurmJobId(f"{base}_{task}{suffix}", base, tasks=(task,), step=step)
        if kind == "array_range":
            body, tasks = draw(_range_text())
            throttle = draw(st.one_of(st.none(), st.integers(1, 999)))
            text = f"{base}_[{body}{f'%{throttle}' if throttle else ''}]{suffix}"
            return SlurmJobId(text, base, tasks=tasks, throttle=throttle, step=step)
        if kind == "hetjob":
            offset = draw(st.integers(0, 9))
            return SlurmJobId(f"{base}+{offset}{suffix}", base, het_offset=offset, step=step)
        return SlurmJobId(f"{base}{suffix}", base, step=step)

    return build()


# --- time strings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlurmTime:
    """A duration as a SLURM tool prints it; ``seconds`` (= ``truth``) is None for the special
    words (``UNLIMITED``, ``NOT_SET``, ``INVALID``, ``Partition_Limit``, ``infinite``...)."""

    text: str
    seconds: int | None
    style: str

    @property
    def truth(self) -> int | None:
        return self.seconds

    def __iter__(self) -> Iterator[Any]:
        return iter((self.text, self.seconds))


# style -> (formatter of seconds, special words, whether values are whole minutes)
_TIME_STYLES = {
    "squeue": (squeue_secs, ("UNLIMITED", "NOT_SET", "INVALID", "N/A"), False),
    "sacct": (secs2time_str, ("UNLIMITED", "Partition_Limit", "INVALID", "Unknown"), False),
    "sinfo": (squeue_secs, ("infinite", "n/a"), True),
}


def slurm_time_strings(*, style: str = "squeue", specials: bool = True
                       ) -> st.SearchStrategy[SlurmTime]:
    """Durations rendered by the simulator's ``timefmt``: ``squeue`` (``M:SS``, ``H:MM:SS``,
    ``D-HH:MM:SS``), ``sacct`` (also scontrol: ``HH:MM:SS``, ``D-HH:MM:SS``) or ``sinfo`` (time
    limits in whole minutes, ``squeue``'s shapes). With ``specials``, the style's special words
    appear too, with ``seconds=None``."""
    if style not in _TIME_STYLES:
        raise ValueError(f"unknown time style {style!r}; choose from {', '.join(_TIME_STYLES)}")
    render, words, minutes = _TIME_STYLES[style]
    secs = DURATIONS_S.map(lambda s: s - s % 60) if minutes else DURATIONS_S
    values = secs.map(lambda s: SlurmTime(render(s), s, style))
    if not specials:
        return values
    return st.one_of(values, st.sampled_from(words).map(lambda w: SlurmTime(w, None, style)))
