"""``@cluster``: make a function run as a batch job when called.

::

    @cluster(cores=4, memory="8G", time="2h")
    def simulate(seed): ...

    simulate(1)                 # blocks; returns the value or re-raises the job's exception
    fut = simulate.submit(2)    # a JobFuture, at once
    simulate.map(range(100))    # one job array; the list of results, in order
    simulate.local(3)           # the plain function, here

Which cluster a call goes to is decided at *call* time (the innermost ``use_profile()`` block,
then ``configure()``, then the configuration file), unless ``profile=`` pins one. Calls made
inside a running job (a decorated function calling another, or itself) run in place rather
than submitting jobs from a compute node.
"""

from __future__ import annotations

import atexit
import difflib
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from clustrix.api.executor import (
    ClusterExecutor,
    _setup_lines,
    build_resources,
    in_job,
    progress_for,
    sanitize_job_name,
)
from clustrix.api.time_limits import warn_if_rounded
from clustrix.backends.array_plan import check_chunk_size
from clustrix.config import BUILTIN_PROFILES, ProfileLike, resolve_profile
from clustrix.config.environment import Environment
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError
from clustrix.spec import RESOURCE_KEYS, Resources, env_pairs

if TYPE_CHECKING:
    from clustrix.futures import JobFuture

OPTION_KEYS = ("profile", "setup", "env", "name", "environment", "ship_modules",
               "ship_local_code")
VALID_ARGUMENTS = (*RESOURCE_KEYS, *OPTION_KEYS)
MAX_SHARED_EXECUTORS = 8


# --- one executor per profile, shared by every decorated function ------------------------------
# Creating a backend per call would mean a new SSH session and poller per call (the original
# clustrix's mistake); profiles are frozen and hashable, so they key the cache directly.

_executors: OrderedDict[Profile, ClusterExecutor] = OrderedDict()
_executors_lock = threading.Lock()


def executor_for(profile: Profile) -> ClusterExecutor:
    """The shared executor for ``profile`` (least recently used ones beyond 8 are shut down)."""
    with _executors_lock:
        ex = _executors.get(profile)
        if ex is not None:
            _executors.move_to_end(profile)
            return ex
    created = ClusterExecutor(profile)  # outside the lock: may connect somewhere
    evicted: list[ClusterExecutor] = []
    with _executors_lock:
        ex = _executors.setdefault(profile, created)
        _executors.move_to_end(profile)
        while len(_executors) > MAX_SHARED_EXECUTORS:
            evicted.append(_executors.popitem(last=False)[1])
    if ex is not created:
        evicted.append(created)
    for old in evicted:
        old.refuse_new_work()
        # Futures handed out earlier must still resolve, so the evicted executor is shut down
        # with wait=True, off this thread: it stops taking work now and closes once its jobs end.
        threading.Thread(target=old.shutdown, kwargs={"wait": True}, name="clustrix-evict",
                         daemon=True).start()
    return ex


@atexit.register
def shutdown_executors(wait: bool = False) -> None:
    """Shut down every shared executor (at exit; the pytest plugin calls it between sessions)."""
    with _executors_lock:
        executors = list(_executors.values())
        _executors.clear()
    for ex in executors:
        ex.shutdown(wait=wait)


# --- the decorated function ------------------------------------------------------------------


class ClusterFunction:
    """A function that runs as a batch job when called. Made by :func:`cluster`.

    Pickles as its state (the original function and the options), so it can be passed to, or
    referenced by, code that itself runs in a job; called there, it runs in place.
    """

    __wrapped__: Callable[..., Any]
    __clustrix_cluster_function__ = True  # executor.CLUSTER_FUNCTION_MARKER: unwrap me

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        resources: Mapping[str, Any] | None = None,
        profile: ProfileLike = None,
        setup: Sequence[str] | str | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        environment: Mapping[str, Any] | Environment | None = None,
        ship_modules: Sequence[str] | str | None = None,
        ship_local_code: bool | None = None,
    ):
        if not callable(fn):
            raise TypeError(f"@cluster decorates a callable, got {fn!r}")
        functools.update_wrapper(self, fn)
        self.resource_overrides: dict[str, Any] = {k: v for k, v in (resources or {}).items() if v is not None}
        # Validate now, at decoration time, so a typo fails at import rather than at the first call.
        build_resources(Resources(), self.resource_overrides)
        if isinstance(profile, Mapping) and not isinstance(profile, Profile):
            profile = Profile.from_mapping(profile, name=str(profile.get("name", "decorator")),
                                           source=f"@cluster(profile=...) of {_qualname(fn)}")
        elif profile is not None and not isinstance(profile, (str, Profile)):
            raise ConfigError(f"profile must be a name, a Profile or a mapping, got {type(profile).__name__}",
                              key="profile")
        self.profile = profile
        if isinstance(profile, Profile):  # a named profile is resolved, and checked, at the first call
            warn_if_rounded(profile, build_resources(profile.resources, self.resource_overrides).time_s,
                            what=f"@cluster on {_qualname(fn)}", stacklevel=4)
        self.setup = _setup_lines(setup)
        if env is not None and not isinstance(env, Mapping):
            raise ConfigError(f"env must be a mapping of NAME: value, got {type(env).__name__}", key="env")
        self.env = dict(env_pairs(env))
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ConfigError(f"name must be a non-empty string, got {name!r}", key="name")
        self.job_name = sanitize_job_name(name) if name is not None else None
        # Checked now (unknown keys, missing files, paths that are not packages), used at the call.
        self.environment = None if environment is None else Environment.from_mapping(
            environment, source=f"@cluster(environment=...) of {_qualname(fn)}")
        self.ship_modules, self.ship_local_code = _ship_options(ship_modules, ship_local_code)

    def __repr__(self) -> str:
        return f"<cluster function {_qualname(self.__wrapped__)}>"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        # Decorating a method: bind like a function would, keeping the job API.
        if instance is None:
            return self
        bound = functools.partial(self.__wrapped__, instance)
        functools.update_wrapper(bound, self.__wrapped__)
        return ClusterFunction(bound, resources=self.resource_overrides, profile=self.profile,
                               setup=self.setup, env=self.env, name=self.job_name,
                               environment=self.environment,
                               ship_modules=self.ship_modules, ship_local_code=self.ship_local_code)

    # ------------------------------------------------------------------ plumbing

    def _executor_and_spec(self) -> tuple[ClusterExecutor, Any]:
        profile = BUILTIN_PROFILES["debug"] if in_job() else self._with_ship_options(resolve_profile(self.profile))
        if self.environment is not None and not in_job():
            # The decorator's environment replaces the profile's (its python, if it names one).
            python = self.environment.python or ("python3" if self.environment.conda else profile.python)
            profile = replace(profile, environment=self.environment, python=python)  # its own shared executor
        ex = executor_for(profile)
        resources = build_resources(profile.resources, self.resource_overrides)
        spec = ex.spec_for(self.__wrapped__, resources=resources, name=self.job_name,
                            setup=self.setup, env=self.env)
        return ex, spec

    def _with_ship_options(self, profile: Profile) -> Profile:
        # The profile is the unit the shared executors are keyed by, so a function that ships
        # differently gets its own (frozen, hashable) variant of the profile.
        if not self.ship_modules and self.ship_local_code is None:
            return profile
        modules = tuple(dict.fromkeys((*profile.ship_modules, *self.ship_modules)))
        local = profile.ship_local_code if self.ship_local_code is None else self.ship_local_code
        return replace(profile, ship_modules=modules, ship_local_code=local)

    # ------------------------------------------------------------------ public API

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run as a job and wait: the return value, or the job's exception with its type.

        Ctrl-C while waiting cancels the job (``scancel``/kill) before ``KeyboardInterrupt``
        propagates, so an interrupted session leaves nothing running.
        """
        if in_job():
            return self.__wrapped__(*args, **kwargs)
        fut = self.submit(*args, **kwargs)
        try:
            return fut.result()
        except KeyboardInterrupt:
            fut.cancel()
            raise

    def submit(self, *args: Any, **kwargs: Any) -> JobFuture:
        """Submit one job and return its :class:`~clustrix.futures.JobFuture` at once."""
        ex, spec = self._executor_and_spec()
        return ex.submit_with(self.__wrapped__, args, kwargs, spec=spec)

    def map(self, *iterables: Iterable[Any], chunk_size: int | None = None) -> list[Any]:
        """Call once per item (one job array) and return the results in order.

        With several iterables, item ``i`` of each is passed as positional arguments, as with
        the builtin ``map``. The first failing item's exception is raised (the items not yet
        finished are cancelled, with one cancel command for the whole array); Ctrl-C cancels
        them all likewise.

        ``chunk_size`` is how many items run one after another in each array task. None (the
        default) means the profile's ``array_chunk_size``, else automatic: one item per task up
        to 500 items, so long items run in parallel. For short items (milliseconds to seconds)
        every task still pays a job start, so give several items to each task, e.g.
        ``f.map(range(10_000), chunk_size=100)``. A progress bar is shown while waiting when
        stderr is a terminal, and removed before ``map`` returns.
        """
        if not iterables:
            raise TypeError(f"{_qualname(self.__wrapped__)}.map() needs at least one iterable")
        chunk_size = check_chunk_size(chunk_size)
        if in_job():
            return [self.__wrapped__(*args) for args in zip(*iterables, strict=False)]
        ex, spec = self._executor_and_spec()
        futures = ex.submit_items(self.__wrapped__, [(args, {}) for args in zip(*iterables, strict=False)],
                                  spec=spec, chunk_size=chunk_size)
        progress = progress_for(futures, self.__wrapped__)
        try:
            return [fut.result() for fut in futures]
        except BaseException:
            progress.close()  # before the cancellations redraw it
            ex.cancel_futures(futures)
            raise
        finally:
            progress.close()  # in this thread, before returning (see clustrix.api.progress.Progress)

    def local(self, *args: Any, **kwargs: Any) -> Any:
        """Call the plain function here, in this process (no job)."""
        return self.__wrapped__(*args, **kwargs)


def _ship_options(modules: Sequence[str] | str | None, local: bool | None) -> tuple[tuple[str, ...], bool | None]:
    names = (modules,) if isinstance(modules, str) else tuple(modules or ())
    if not all(isinstance(m, str) and m.strip() and all(p.isidentifier() for p in m.split(".")) for m in names):
        raise ConfigError(f"ship_modules must be a list of module names (e.g. ['mylab']), got {modules!r}",
                          key="ship_modules")
    if local is not None and not isinstance(local, bool):
        raise ConfigError(f"ship_local_code must be True or False, got {local!r}", key="ship_local_code")
    return names, local


def _qualname(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def cluster(
    _fn: Callable[..., Any] | None = None,
    /,
    *,
    cores: int | None = None,
    memory: int | float | str | None = None,
    time: Any = None,
    partition: str | None = None,
    queue: str | None = None,
    gpus: int | None = None,
    nodes: int | None = None,
    account: str | None = None,
    qos: str | None = None,
    extra_directives: Sequence[str] | str | None = None,
    profile: ProfileLike = None,
    setup: Sequence[str] | str | None = None,
    env: Mapping[str, str] | None = None,
    name: str | None = None,
    environment: Mapping[str, Any] | None = None,
    ship_modules: Sequence[str] | str | None = None,
    ship_local_code: bool | None = None,
    **unknown: Any,
) -> Any:
    """Decorate a function so that calling it runs it as a batch job (see the module docstring).

    Resource arguments override the profile's defaults; None means "the profile's value".
    ``profile`` pins the function to a profile (a name, a Profile or a mapping); otherwise the
    active profile at call time is used. ``setup`` lines run before the function in the job,
    ``env`` variables are exported there, ``name`` is the job name (default: the function's
    qualified name). ``environment`` replaces the profile's (``{pip: [...]}``, ``{conda: NAME}``...;
    see :mod:`clustrix.config.environment`). ``ship_modules`` names modules of yours to ship with every
    call, and ``ship_local_code=False`` stops shipping the local modules clustrix finds (None:
    the profile's settings; see README "My code is in a package"). Usable bare (``@cluster``) or
    with arguments (``@cluster(cores=4)``).
    """
    if unknown:
        bad = sorted(unknown)[0]
        close = difflib.get_close_matches(bad, VALID_ARGUMENTS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"@cluster() got an unknown argument {bad!r}{hint}; valid arguments are: "
                        f"{', '.join(VALID_ARGUMENTS)}")
    resources = {"cores": cores, "memory": memory, "time": time, "partition": partition, "queue": queue,
                 "gpus": gpus, "nodes": nodes, "account": account, "qos": qos,
                 "extra_directives": extra_directives}

    def decorate(fn: Callable[..., Any]) -> ClusterFunction:
        return ClusterFunction(fn, resources=resources, profile=profile, setup=setup, env=env, name=name,
                               environment=environment, ship_modules=ship_modules,
                               ship_local_code=ship_local_code)

    if _fn is None:
        return decorate
    if not callable(_fn):
        raise TypeError(f"@cluster takes keyword arguments only (e.g. @cluster(cores=4)), got {_fn!r}")
    return decorate(_fn)
