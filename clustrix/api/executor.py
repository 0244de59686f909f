"""``ClusterExecutor``: a :class:`concurrent.futures.Executor` whose work items are batch jobs.

::

    with ClusterExecutor("hpc", cores=4, memory="8G", time="1:00:00") as ex:
        fut = ex.submit(simulate, 42)           # one job
        results = list(ex.map(simulate, seeds)) # one job array, results in order
        print(fut.result(), fut.job_id, fut.stdout())

The executor resolves its profile once, when it is built, and keeps that frozen value: a later
``configure()`` or ``use_profile()`` never changes where its jobs go. Resource keywords
override the profile's defaults and are validated immediately.
"""

from __future__ import annotations

import concurrent.futures
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from clustrix.api.job_entry import IN_JOB_ENV, JobEntry, in_job  # noqa: F401 - re-exported, see job_entry
from clustrix.api.progress import Progress
from clustrix.api.time_limits import warn_if_rounded
from clustrix.backends.array_plan import check_chunk_size
from clustrix.config import ProfileLike, resolve_profile
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError, ResourceError
from clustrix.spec import RESOURCE_KEYS, JobSpec, Resources

if TYPE_CHECKING:
    from clustrix.backends.base import Backend
    from clustrix.futures import JobFuture

_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
JOB_NAME_MAX = 64


CLUSTER_FUNCTION_MARKER = "__clustrix_cluster_function__"
"""A class attribute (True) on ``@cluster`` wrappers; their ``__wrapped__`` is the plain function."""


def job_name_for(fn: Callable[..., Any]) -> str:
    """A job name every scheduler accepts, from the function's qualified name.

    ``pkg.mod.outer.<locals>.f`` becomes ``outer.locals.f``: letters, digits, ``_ . -`` only,
    starting with a letter, at most 64 characters (SGE and PBS are the strict ones).
    """
    target = getattr(fn, "__wrapped__", fn)
    target = getattr(target, "func", target)  # functools.partial, JobEntry
    raw = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or type(target).__name__
    return sanitize_job_name(str(raw))


def sanitize_job_name(raw: str) -> str:
    """Squash ``raw`` into letters, digits and ``_ . -``, starting with a letter, <= 64 chars."""
    name = _NAME_BAD.sub("_", raw.replace("<", "").replace(">", "")).strip("._-")
    if not name or not name[0].isalpha():
        name = "job_" + name
    return name[:JOB_NAME_MAX].rstrip("._-") or "job"


def check_resource_names(values: Mapping[str, Any], what: str = "resource") -> None:
    """Raise naming the first unknown resource keyword and listing the valid ones."""
    unknown = sorted(k for k in values if k not in RESOURCE_KEYS)
    if unknown:
        raise ConfigError(f"unknown {what} {unknown[0]!r}; valid resources are: {', '.join(RESOURCE_KEYS)}",
                          key=unknown[0])


def build_resources(base: Resources, overrides: Mapping[str, Any]) -> Resources:
    """``base`` with user-form overrides, validated; errors name the resource and the forms."""
    check_resource_names(overrides)
    try:
        return base.merged(**overrides)
    except ResourceError:
        raise
    except TypeError as exc:  # e.g. extra_directives=5
        raise ConfigError(f"bad resource value: {exc}") from exc


class ClusterExecutor(concurrent.futures.Executor):
    """Run calls as jobs on the backend a profile names (see the module docstring).

    ``profile`` is a profile name, a :class:`~clustrix.config.profile.Profile`, a mapping, or None for
    the active profile. ``resources`` (``cores``, ``memory``, ``time``, ``partition``, ``queue``,
    ``gpus``, ``nodes``, ``account``, ``qos``, ``extra_directives``) override its defaults;
    ``setup`` lines and ``env`` variables are added to the profile's. The backend is created
    when the executor is.
    """

    def __init__(
        self,
        profile: ProfileLike = None,
        *,
        setup: Sequence[str] | str | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        **resources: Any,
    ):
        self.profile: Profile = resolve_profile(profile)
        self.resources: Resources = build_resources(self.profile.resources, resources)
        self._setup = _setup_lines(setup)
        self._env = dict(env or {})
        self._name = name
        # Validate setup/env/name now, not at the first submit; a time limit the scheduler would
        # round up is announced here, at construction, once.
        warn_if_rounded(self.profile, self.resources.time_s, what=f"ClusterExecutor({self.profile.name!r})")
        self.spec_for(lambda: None, resources=self.resources)
        from clustrix.backends.factory import create_backend

        self._backend: Backend = create_backend(self.profile)
        self._lock = threading.Lock()
        self._shutdown = False

    def __repr__(self) -> str:
        state = "shut down" if self._shutdown else "open"
        return f"<ClusterExecutor profile={self.profile.name!r} backend={self.profile.backend!r} {state}>"

    @property
    def backend(self) -> Backend:
        return self._backend

    # ------------------------------------------------------------------ specs

    def spec_for(
        self,
        fn: Callable[..., Any],
        *,
        resources: Resources | None = None,
        name: str | None = None,
        setup: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> JobSpec:
        """The :class:`JobSpec` for running ``fn``: this executor's resources unless given, the
        profile's setup and env followed by the executor's and then these, the profile's python.
        The job name defaults to the executor's ``name``, else ``fn``'s qualified name.
        """
        merged_env = dict(self.profile.env)
        merged_env.update(self._env)
        merged_env.update(env or {})
        merged_env[IN_JOB_ENV] = "1"
        job_name = name or self._name
        spec_resources = resources or self.resources
        warn_if_rounded(self.profile, spec_resources.time_s, what=job_name or job_name_for(fn))
        return JobSpec(
            name=sanitize_job_name(job_name) if job_name else job_name_for(fn),
            resources=spec_resources,
            env=tuple(sorted(merged_env.items())),
            setup=(*self.profile.setup, *self._setup, *setup),
            python=self.profile.python,
        )

    def _check_open(self) -> None:
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")

    # ------------------------------------------------------------------ Executor API

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> JobFuture:
        """Run ``fn(*args, **kwargs)`` as one job; returns its :class:`~clustrix.futures.JobFuture`."""
        return self.submit_with(fn, args, kwargs)

    def submit_with(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        spec: JobSpec | None = None,
    ) -> JobFuture:
        """Like :meth:`submit`, with an explicit :class:`JobSpec` (``@cluster`` uses this)."""
        from clustrix.payload.codec import Call

        # No lock is held while the backend submits: DebugBackend runs the call right here, and
        # a backend refuses work itself once shut down, so the check below is only a fast path.
        self._check_open()
        call = Call(JobEntry(_unwrap(fn)), tuple(args), dict(kwargs or {}))
        return self._backend.submit(call, spec or self.spec_for(fn))

    def submit_array(self, fn: Callable[..., Any], iterable: Iterable[Any], *,
                     spec: JobSpec | None = None, chunk_size: int | None = None) -> list[JobFuture]:
        """Run ``fn(item)`` for every item as one job array; one future per item, in order.

        Each item is passed as the single positional argument: a tuple item arrives as a tuple
        and is *not* unpacked. For several arguments per call use :meth:`map` with several
        iterables, or :meth:`submit_items` with ``(args, kwargs)`` pairs. ``chunk_size``: see
        :meth:`submit_items`.
        """
        return self.submit_items(fn, [((item,), {}) for item in iterable], spec=spec, chunk_size=chunk_size)

    def submit_items(self, fn: Callable[..., Any], items: Iterable[tuple[Sequence[Any], Mapping[str, Any]]],
                     *, spec: JobSpec | None = None, chunk_size: int | None = None) -> list[JobFuture]:
        """One job array running ``fn(*args, **kwargs)`` for each ``(args, kwargs)`` item.

        ``chunk_size`` items run one after another in each array task; None uses the profile's
        ``array_chunk_size``, else the automatic rule (one item per task up to 500 items, see
        :mod:`clustrix.backends.array_plan`). Backends that run every item on its own (``local``, ``debug``)
        have no array tasks and ignore it.
        """
        chunk_size = check_chunk_size(chunk_size)
        pairs = [(tuple(a), dict(kw)) for a, kw in items]
        self._check_open()
        if not pairs:
            return []
        entry, job_spec = JobEntry(_unwrap(fn)), spec or self.spec_for(fn)
        return self._backend.submit_array(entry, pairs, job_spec, chunk_size=chunk_size)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int | None = None) -> Iterator[Any]:
        """``Executor.map``: submit every call now as one job array, yield results in order.

        ``timeout`` counts from this call; a result not ready in time raises ``TimeoutError``.
        Closing the iterator early, or an exception from one item, cancels the calls not yet
        finished, with one cancel command for the whole array. ``chunksize`` is how many items
        run one after another in each array task: None (the default, unlike the standard
        library's 1) means the profile's ``array_chunk_size``, else automatic (one item per
        task up to 500 items). Raise it for short items: every task pays a job start, so
        thousands of millisecond items run far faster 25 or 100 to a task; keep it at 1 for
        items that take long. A progress bar is shown while iterating when stderr is a
        terminal; it is gone before the last result is handed out.
        """
        chunksize = check_chunk_size(chunksize, "chunksize")
        if not iterables:
            raise TypeError("map() needs at least one iterable")
        deadline = None if timeout is None else time.monotonic() + timeout
        futures = self.submit_items(fn, [(args, {}) for args in zip(*iterables, strict=False)],
                                    chunk_size=chunksize)
        return _results_in_order(futures, deadline, self.cancel_futures, progress_for(futures, fn))

    def cancel_futures(self, futures: Iterable[concurrent.futures.Future[Any]]) -> int:
        """Cancel many futures of this executor at once; returns how many are cancelled.

        On a scheduler this is ONE cancel command (``scancel`` of the array, or of the listed
        tasks) instead of one per future; elsewhere each future is cancelled. Futures already
        finished are left alone. ``future.cancel()`` on a single future is unchanged.
        """
        return self._backend.cancel_futures(futures)

    def refuse_new_work(self) -> None:
        """The first step of :meth:`shutdown` alone: later submissions raise ``RuntimeError``."""
        with self._lock:
            self._shutdown = True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new work; cancel queued jobs if asked; with ``wait``, wait for the rest."""
        self.refuse_new_work()
        self._backend.shutdown(wait=wait, cancel_futures=cancel_futures)


def _results_in_order(futures: list[JobFuture], deadline: float | None,
                      cancel: Callable[[list[JobFuture]], object], progress: Progress) -> Iterator[Any]:
    # A generator so results stream as they arrive; the finally cancels what is left when the
    # caller stops early or one item raises, as Executor.map does -- all of it in one call.
    # The progress bar is closed here, in the caller's thread, before the last value is handed
    # out: closing it from the last future's callback would race with the caller's own output.
    # Only the futures not yet handed out are held here, so a value the caller has consumed is
    # not kept alive by the iterator (the caller's list and the backend decide its lifetime).
    pending = list(reversed(futures))
    del futures
    try:
        while pending:
            fut = pending[-1]
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            value = fut.result(remaining)
            pending.pop()
            if not pending:
                progress.close()
            yield value
    finally:
        progress.close()
        if pending:
            cancel(pending)


def progress_for(futures: Sequence[concurrent.futures.Future[Any]], fn: Callable[..., Any]) -> Progress:
    """The progress bar of a map over ``futures`` (shown only when stderr is a terminal)."""
    job_id = getattr(futures[0], "job_id", "") if futures else ""
    # Nothing to show when every item is already done (the in-process debug backend).
    enabled = None if any(not f.done() for f in futures) else False
    return Progress(futures, desc=f"{job_name_for(fn)} {str(job_id).split('[')[0]}".strip(), enabled=enabled)


def _unwrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The plain function behind a ``@cluster`` wrapper (jobs run the original, not the wrapper).

    A wrapper says what it is with :data:`CLUSTER_FUNCTION_MARKER` rather than by its class, so
    the executor does not import the decorator that is built on it.
    """
    if getattr(type(fn), CLUSTER_FUNCTION_MARKER, False):
        return fn.__wrapped__  # type: ignore[attr-defined]
    if not callable(fn):
        raise TypeError(f"expected a callable, got {fn!r} of type {type(fn).__name__}")
    return fn


def _setup_lines(setup: Sequence[str] | str | None) -> tuple[str, ...]:
    if setup is None:
        return ()
    lines = (setup,) if isinstance(setup, str) else tuple(setup)
    for line in lines:
        if not isinstance(line, str):
            raise ConfigError(f"setup lines must be strings, got {line!r}", key="setup")
    return lines
