"""What a job actually calls: :class:`JobEntry`, and :func:`in_job`, the "inside a job" flag.

Every payload the executor stages holds a ``JobEntry`` pickled *by reference*, so the job-side
runner imports the module that defines it once per job. Defined in :mod:`clustrix.api.executor`,
that costs the job ~70 ms (the executor imports the config machinery, yaml, ``inspect``,
``typing``, ``concurrent.futures``...); defined here, it costs nothing measurable: this module
imports only :mod:`os` and :mod:`contextvars`. :mod:`clustrix.api.executor` re-exports every name.
"""

from __future__ import annotations

import os
from contextvars import ContextVar

TYPE_CHECKING = False  # not ``from typing import ...``: typing costs ~5 ms per job start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["IN_JOB_ENV", "JobEntry", "in_job"]

IN_JOB_ENV = "CLUSTRIX_IN_JOB"
"""Set to ``1`` in every job's environment; clustrix calls made inside a job run in place."""

_in_job: ContextVar[bool] = ContextVar("clustrix_in_job", default=False)


def in_job() -> bool:
    """True while running inside a clustrix job (there, ``@cluster`` calls run in place)."""
    return _in_job.get() or os.environ.get(IN_JOB_ENV) == "1"


class JobEntry:
    """The callable a job actually runs: the user's function, marked as running inside a job.

    It exists so that a decorated function called *from inside* a job (recursion, or a helper
    that is itself decorated) runs in place instead of submitting more jobs from a compute node,
    including on in-process backends where no environment variable separates the two sides.
    ``func`` is the user's function (the payload reads it for the source file name).
    """

    __slots__ = ("func",)

    def __init__(self, func: Callable[..., Any]):
        self.func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        token = _in_job.set(True)
        try:
            return self.func(*args, **kwargs)
        finally:
            _in_job.reset(token)

    def __reduce__(self) -> tuple[Any, ...]:
        return (JobEntry, (self.func,))

    def __repr__(self) -> str:
        return f"JobEntry({self.func!r})"
