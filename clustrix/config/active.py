"""Which profile a call uses: ``configure()``, ``use_profile()``, the session profile, the file.

The profile a call uses is decided when the call is made, innermost first: a ``use_profile()``
block, then a test session's profile (``set_session_profile()``, used by the pytest plugin), then
``configure()``, then ``$CLUSTRIX_PROFILE`` / ``default_profile`` of the file, then the
built-in ``local`` profile (with one warning per process, since that is usually a setup mistake).
Profiles are frozen values: an executor keeps the one it was built with, so a later
``configure()`` never changes jobs already in flight.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from clustrix.config.files import (
    BUILTIN_PROFILES,
    ENV_PROFILE,
    NO_CONFIG_WARNING,
    Config,
    ProfileLike,
    discover_config_path,
    read_config_file,
    user_config_path,
)
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError

log = logging.getLogger("clustrix")

# --- process state -----------------------------------------------------------------------------
# Only immutable values are stored here and they are replaced, never mutated, so a Profile an
# executor captured can never change under it.

_lock = threading.RLock()
_loaded: Config | None = None                     # set by load_config()
_configured: Profile | None = None               # set by configure()
_discovered: tuple[tuple[Any, ...], Config] | None = None   # cache keyed by (path, mtime, size)
_session: Profile | Callable[[], Profile] | None = None   # set by the pytest plugin
_warned_local = False
_active: contextvars.ContextVar[Profile | None] = contextvars.ContextVar("clustrix_profile", default=None)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read ``path``, validate it, and make it the active configuration of this process."""
    global _loaded
    config = read_config_file(path)
    with _lock:
        _loaded = config
    return config


def get_config() -> Config:
    """The active configuration: the one ``load_config()`` set, else the discovered file."""
    with _lock:
        if _loaded is not None:
            return _loaded
    return _discover()


def _discover() -> Config:
    global _discovered
    path, origin = discover_config_path()
    if path is None:
        return Config(origin=origin)
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file: {exc}", source=str(path)) from exc
    key = (str(path), st.st_mtime_ns, st.st_size, origin)
    with _lock:
        if _discovered is not None and _discovered[0] == key:
            return _discovered[1]
    config = read_config_file(path, origin=origin)
    with _lock:
        _discovered = (key, config)
    return config


def _file_profile(config: Config) -> Profile | None:
    """The profile the file (or ``$CLUSTRIX_PROFILE``) selects, or None when nothing does."""
    wanted = os.environ.get(ENV_PROFILE)
    if wanted:
        try:
            return config.get(wanted)
        except ConfigError as exc:
            raise ConfigError(str(exc), key=ENV_PROFILE) from None
    if config.default_profile is not None:
        return config.get(config.default_profile)
    if len(config.profiles) == 1:
        return next(iter(config.profiles.values()))
    if config.profiles:
        raise ConfigError(f"{len(config.profiles)} profiles ({', '.join(sorted(config.profiles))}) and no "
                          f"default; add 'default_profile: NAME' or set ${ENV_PROFILE}",
                          source=config.path, key="default_profile")
    return None


def set_session_profile(profile: Profile | Callable[[], Profile] | None) -> Profile | Callable[[], Profile] | None:
    """Route every call outside ``use_profile()`` blocks to ``profile``; returns the previous one.

    For test harnesses (the pytest plugin's ``--clustrix-backend``): it beats ``configure()``
    and the configuration file, so code under test that configures a real cluster still runs on
    the one the test session chose. A callable is called at resolve time (it may start a
    simulator lazily). None removes the routing.
    """
    global _session
    if profile is not None and not isinstance(profile, Profile) and not callable(profile):
        raise ConfigError(f"a session profile is a Profile or a callable returning one, got {profile!r}")
    with _lock:
        previous, _session = _session, profile
    return previous


def _session_profile() -> Profile | None:
    with _lock:
        session = _session
    if session is None or isinstance(session, Profile):
        return session
    made = session()
    if not isinstance(made, Profile):
        raise ConfigError(f"the session profile provider returned {made!r}, not a Profile")
    return made


def _base_profile() -> Profile:
    """The profile calls use outside any ``use_profile()`` block."""
    global _warned_local
    session = _session_profile()
    if session is not None:
        return session
    with _lock:
        configured = _configured
    if configured is not None:
        return configured
    selected = _file_profile(get_config())
    if selected is not None:
        return selected
    with _lock:
        first = not _warned_local
        _warned_local = True
    if first:
        log.warning(NO_CONFIG_WARNING, user_config_path())
    return BUILTIN_PROFILES["local"]


def _merged(base: Profile, overrides: Mapping[str, Any], source: str) -> Profile:
    data = base.to_mapping()
    data.update(overrides)
    return Profile.from_mapping(data, name=overrides.get("name", base.name), source=source)


def resolve_profile(profile: ProfileLike = None, **overrides: Any) -> Profile:
    """Turn anything that names a profile into a frozen :class:`Profile`.

    ``profile`` may be a name (from the configuration file, or ``local``/``debug``), a
    :class:`Profile`, a plain mapping (as in a YAML profile section), or None for the active one.
    ``overrides`` are profile or resource keys applied on top, validated.
    """
    if profile is None:
        current = _active.get()
        base = current if current is not None else _base_profile()
    elif isinstance(profile, Profile):
        base = profile
    elif isinstance(profile, str):
        base = get_config().get(profile)
    elif isinstance(profile, Mapping):
        base = Profile.from_mapping(profile, name=str(profile.get("name", "argument")), source="profile argument")
    else:
        raise ConfigError(f"a profile is a name, a Profile or a mapping, got {type(profile).__name__}",
                          key="profile")
    return _merged(base, overrides, "argument") if overrides else base


def configure(profile: ProfileLike = None, **overrides: Any) -> Profile:
    """Set the process-wide profile used outside ``use_profile()`` blocks; returns it.

    ``configure(backend="slurm", host="login.example.org", partition="short")`` overrides keys
    of the current default profile; ``configure("hpc", cores=4)`` starts from a named profile.
    Values are validated now. Executors already created keep the profile they captured.
    """
    global _configured
    with _lock:
        start = _configured
    if profile is not None:
        base = resolve_profile(profile)
    elif start is not None:
        base = start
    else:
        file_selected = _file_profile(get_config())
        base = file_selected if file_selected is not None else BUILTIN_PROFILES["local"]
    new = _merged(base, overrides, "configure()") if overrides else base
    with _lock:
        _configured = new
    return new


def reset_config() -> None:
    """Forget ``load_config()``/``configure()`` state and the discovery cache (mainly for tests)."""
    global _loaded, _configured, _discovered, _warned_local
    with _lock:
        _loaded = None
        _configured = None
        _discovered = None
        _warned_local = False


@contextlib.contextmanager
def use_profile(profile: ProfileLike = None, **overrides: Any) -> Iterator[Profile]:
    """Route every ``@cluster`` call made inside the block to ``profile``.

    The setting lives in a :mod:`contextvars` variable: blocks nest, other threads are unaffected,
    and each asyncio task sees the profile of the block it was created in. Yields the profile.
    """
    resolved = resolve_profile(profile, **overrides)
    token = _active.set(resolved)
    try:
        yield resolved
    finally:
        _active.reset(token)


def active_profile_source() -> str:
    """A short description of where the profile calls would use now comes from."""
    if _active.get() is not None:
        return "use_profile() block"
    with _lock:
        if _session is not None:
            return "test session (set_session_profile)"
    with _lock:
        if _configured is not None:
            return "configure()"
    config = get_config()
    if os.environ.get(ENV_PROFILE):
        return f"${ENV_PROFILE}"
    if config.default_profile is not None:
        return f"default_profile in {config.path}"
    if len(config.profiles) == 1:
        return f"the only profile in {config.path}"
    return "built-in (no configuration found)"
