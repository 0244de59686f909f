"""Records a remote backend's submissions, and each task's final state, in the job ledger.

The ledger is a convenience (``clustrix jobs``, reattaching after a restart): a ledger that cannot
be opened or written is logged once per failure and never fails a job that was submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from clustrix.backends.ledger import Ledger
from clustrix.backends.remote.submission import Submission
from clustrix.config.profile import Profile

log = logging.getLogger(__name__)


class LedgerRecorder:
    """``ledger``: a :class:`Ledger`, None (the profile's ``ledger``, else the user's, opened on
    first use) or False (off)."""

    def __init__(self, ledger: Ledger | bool | None, profile: Profile):
        self._profile = profile
        self._ledger: Ledger | None = ledger if isinstance(ledger, Ledger) else None
        self._enabled = ledger is not False

    def ledger(self) -> Ledger | None:
        """The ledger in use, opened on first use; None when disabled or unavailable."""
        if not self._enabled:
            return None
        if self._ledger is None:
            try:
                self._ledger = Ledger(self._profile.ledger)
            except Exception:  # noqa: BLE001 - any failure to open means "no ledger", said once
                log.warning("the job ledger is unavailable; jobs will not be reattachable", exc_info=True)
                self._enabled = False
                return None
        return self._ledger

    def record(self, sub: Submission, function: str, *, prepared_at: float | None = None) -> None:
        """Record a new submission; sets ``sub.row``. ``prepared_at``: when the client began it."""
        ledger = self.ledger()
        if ledger is None:
            return
        try:
            sub.row = ledger.record(
                job_id=sub.job_id, backend=self._profile.backend, host=self._profile.host,
                port=self._profile.port, profile_name=self._profile.name,
                profile={"name": self._profile.name, **self._profile.to_mapping()}, job_dir=sub.paths.job_dir,
                key_file=sub.paths.key_file, function=function,
                task_ids=sub.task_keys if sub.plan is not None else (),
                n_items=1 if sub.plan is None else sub.plan.n_items,
                chunk_size=1 if sub.plan is None else sub.plan.chunk_size, prepared_at=prepared_at)
        except Exception:  # noqa: BLE001 - never fail a submitted job over the ledger
            log.warning("could not record job %s in the ledger", sub.job_id, exc_info=True)

    def update(self, sub: Submission, tasks: dict[int, str], *, error: str | None = None) -> None:
        """Record tasks' states and the submission's aggregate state."""
        ledger = self.ledger()
        if ledger is None or sub.row is None:
            return
        try:
            if sub.plan is not None:
                ledger.set_task_states(sub.row, tasks)
            ledger.set_state(sub.row, sub.aggregate_state(), error=error)
        except Exception:  # noqa: BLE001 - as in record()
            log.warning("could not update job %s in the ledger", sub.job_id, exc_info=True)


def function_name(fn: Callable[..., Any]) -> str:
    """``module.qualname`` of the user's function, for the ledger's listing."""
    fn = getattr(fn, "func", fn)  # the executor's JobEntry wraps the user's function
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{module}.{name}"
