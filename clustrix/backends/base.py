"""The protocol every execution backend implements.

A backend is constructed from a :class:`~clustrix.config.profile.Profile` (``Backend(profile)``) and turns
calls into :class:`~clustrix.futures.JobFuture` objects. ``clustrix.backends.factory.create_backend``
picks the class; ``ClusterExecutor`` and ``@cluster`` are built on top of it.

Implementations: :class:`clustrix.backends.local.backend.LocalBackend` (a process pool on this machine, or threads),
:class:`clustrix.backends.local.backend.DebugBackend` (in-process, synchronous; pdb works) and
``clustrix.backends.remote.backend.RemoteBackend`` (a scheduler or a plain SSH host).

Contract, for every implementation:

- ``submit`` returns at once (DebugBackend excepted: it runs the call before returning) with a
  future that resolves to the call's value or raises its exception with the original type.
- ``submit_array(fn, items, spec, chunk_size=None)`` returns one future per ``(args, kwargs)``
  item, in order.
- ``cancel_futures(futures)`` cancels many futures at once and says how many are cancelled.
- Errors in the call's *arguments* that make it impossible to submit (unpicklable arguments, a
  bad spec) raise from ``submit`` itself, not later from ``result()``.
- ``shutdown(wait=True, cancel_futures=False)`` behaves like ``Executor.shutdown``: no new
  submissions afterwards (``RuntimeError``), queued jobs cancelled if asked, and with ``wait`` it
  returns once every submitted job has finished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from clustrix.futures import JobFuture
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec

ArrayItem = tuple[tuple[Any, ...], Mapping[str, Any]]
"""One call of an array: ``(args, kwargs)``."""


@runtime_checkable
class Backend(Protocol):
    """Runs calls somewhere and hands back futures. See the module docstring for the contract."""

    def submit(self, call: Call, spec: JobSpec) -> JobFuture:
        """Start (or queue) one call as one job."""
        ...

    def submit_array(self, fn: Callable[..., Any], items: Sequence[ArrayItem], spec: JobSpec,
                     *, chunk_size: int | None = None) -> list[JobFuture]:
        """Start (or queue) ``fn(*args, **kwargs)`` for every item; one future per item, in order.

        ``chunk_size`` items share one array task where the backend has tasks to share; backends
        without them (local, debug) validate it and run each item on its own.
        """
        ...

    def cancel_futures(self, futures: Iterable[Future[Any]]) -> int:
        """Cancel many of this backend's futures at once (one scheduler command where possible);
        returns how many of ``futures`` are cancelled afterwards."""
        ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; optionally cancel queued jobs; optionally wait for the rest."""
        ...


def cancel_each(futures: Iterable[Future[Any]]) -> int:
    """``cancel_futures`` for backends without a bulk cancel: each unfinished future in turn."""
    futs = list(futures)
    for fut in futs:
        if not fut.done():
            fut.cancel()
    return sum(1 for f in futs if f.cancelled())


def check_items(items: Sequence[ArrayItem]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Validate array items, returning them as ``(tuple, dict)`` pairs; names the bad item."""
    out = []
    for i, item in enumerate(items):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping)
                and isinstance(item[0], (tuple, list))):
            raise TypeError(f"array item {i} must be a pair (args tuple, kwargs dict), got {item!r:.200}")
        out.append((tuple(item[0]), dict(item[1])))
    return out
