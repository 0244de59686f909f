"""A progress bar over the item futures of a map (tqdm, on a terminal only)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any


class Progress:
    """A tqdm bar over futures, shown only when stderr is a terminal (never in logs or CI).

    The bar advances as futures finish (from whichever thread finishes them) and closes itself
    after the last one. A caller that waits for the futures should close it itself before it
    returns (``close()``, or use it as a context manager): the last future's callbacks run
    *after* waiters wake up, so the self-close could otherwise draw on the caller's next line.
    """

    def __init__(self, futures: Sequence[Future[Any]], *, desc: str = "", enabled: bool | None = None):
        if enabled is None:
            enabled = _stderr_is_terminal()
        self._bar = None
        self._lock = threading.Lock()
        self._left = len(futures)
        self.done = 0
        if not enabled or not futures:
            return
        from tqdm import tqdm

        self._bar = tqdm(total=len(futures), desc=desc or None, unit="item", file=sys.stderr, leave=False)
        for fut in futures:
            fut.add_done_callback(self._one_done)

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def _one_done(self, _fut: Future[Any]) -> None:
        with self._lock:
            bar = self._bar
            if bar is None:
                return
            bar.update(1)
            self.done += 1
            self._left -= 1
            if self._left <= 0:
                bar.close()
                self._bar = None

    def close(self) -> None:
        """Remove the bar now (idempotent; later completions no longer touch the terminal)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr is not None and sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False
