"""Where profiles come from: YAML files, ``configure()``, ``use_profile()``.

A configuration file looks like::

    default_profile: hpc          # optional; $CLUSTRIX_PROFILE overrides it
    profiles:
      hpc:
        backend: slurm
        host: login.example.org
        remote_dir: /scratch/me/clustrix   # must be visible from the compute nodes
        partition: short
        memory: 4G
      laptop:
        backend: local

The file is found in this order: ``$CLUSTRIX_CONFIG`` (a path; it must exist), ``./clustrix.yaml``,
then ``$XDG_CONFIG_HOME/clustrix/config.yaml`` (default ``~/.config/clustrix/config.yaml``).
Every unknown key and bad value is a :class:`~clustrix.errors.ConfigError` naming the file and the
key; nothing is ignored and nothing silently falls back.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clustrix.errors import ConfigError
from clustrix.profile import Profile
from clustrix.spec import RESOURCE_KEYS

log = logging.getLogger("clustrix")

ENV_CONFIG = "CLUSTRIX_CONFIG"
ENV_PROFILE = "CLUSTRIX_PROFILE"
LOCAL_FILE = "clustrix.yaml"
TOP_LEVEL_KEYS = ("default_profile", "profiles")
BUILTIN_PROFILES: dict[str, Profile] = {
    "local": Profile(name="local", backend="local"),
    "debug": Profile(name="debug", backend="debug"),
}

ProfileLike = str | Profile | Mapping[str, Any] | None

NO_CONFIG_WARNING = (
    "No clustrix configuration found, so @cluster functions run on THIS machine (built-in "
    "'local' profile). To run on a cluster, create ./clustrix.yaml (or %s) such as:\n"
    "    default_profile: hpc\n"
    "    profiles:\n"
    "      hpc: {backend: slurm, host: login.example.org, remote_dir: /scratch/USER/clustrix}\n"
    "or call clustrix.configure(backend=\"slurm\", host=\"login.example.org\"). "
    "Check with: clustrix config show"
)


@dataclass(frozen=True)
class Config:
    """The parsed contents of one configuration file (or an empty one when there is none).

    ``path`` is the file, ``origin`` says why that file was chosen (``$CLUSTRIX_CONFIG``,
    ``./clustrix.yaml``, ``user config dir``, ``load_config()``).
    """

    path: str | None = None
    origin: str = "none"
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    default_profile: str | None = None

    def get(self, name: str) -> Profile:
        """The profile called ``name``: one from the file, else a built-in (``local``, ``debug``)."""
        if not isinstance(name, str):
            raise ConfigError(f"a profile name must be a string, got {name!r}")
        if name in self.profiles:
            return self.profiles[name]
        if name in BUILTIN_PROFILES:
            return BUILTIN_PROFILES[name]
        known = sorted(set(self.profiles) | set(BUILTIN_PROFILES))
        where = self.path or "no configuration file"
        raise ConfigError(f"no profile named {name!r} ({where}); available profiles: {', '.join(known)}")

    def source_of(self, name: str) -> str:
        """Where profile ``name`` comes from, for ``clustrix config show``."""
        if name in self.profiles:
            return f"{self.path}: profiles.{name}"
        return "built-in"


# --- discovery and parsing -------------------------------------------------------------------


def user_config_path() -> Path:
    """``$XDG_CONFIG_HOME/clustrix/config.yaml``, default ``~/.config/clustrix/config.yaml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "clustrix" / "config.yaml"


def discover_config_path() -> tuple[Path | None, str]:
    """The configuration file to use and why, or ``(None, reason)`` when there is none."""
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"${ENV_CONFIG} names {explicit!r}, which is not an existing file; "
                              f"fix the path or unset {ENV_CONFIG}", key=ENV_CONFIG)
        return path.resolve(), f"${ENV_CONFIG}"
    local = Path.cwd() / LOCAL_FILE
    if local.is_file():
        return local.resolve(), f"./{LOCAL_FILE}"
    user = user_config_path()
    if user.is_file():
        return user.resolve(), "user config dir"
    return None, f"no file (searched ./{LOCAL_FILE} and {user})"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML otherwise keeps the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_config(text: str, path: str, *, origin: str = "load_config()") -> Config:
    """Parse and validate configuration text; ``path`` is only used to name errors."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML at {where}{problem}", source=path) from exc
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"the file must hold a mapping with keys {', '.join(TOP_LEVEL_KEYS)}, "
                          f"got {type(data).__name__}", source=path)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = " (profile settings go under profiles.NAME)" if key in _PROFILE_KEYS else ""
            raise ConfigError(f"unknown top-level key; valid keys are: {', '.join(TOP_LEVEL_KEYS)}{hint}",
                              source=path, key=str(key))
    raw_profiles = data.get("profiles") or {}
    if not isinstance(raw_profiles, Mapping):
        raise ConfigError("must be a mapping of NAME: {backend: ..., ...}", source=path, key="profiles")
    profiles: dict[str, Profile] = {}
    for name, body in raw_profiles.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"profile names must be non-empty strings, got {name!r}", source=path, key="profiles")
        profiles[name] = Profile.from_mapping(body if body is not None else {}, name=name,
                                              source=f"{path}: profiles.{name}")
    default = data.get("default_profile")
    if default is not None:
        if not isinstance(default, str) or (default not in profiles and default not in BUILTIN_PROFILES):
            known = sorted(set(profiles) | set(BUILTIN_PROFILES))
            raise ConfigError(f"{default!r} is not a profile in this file; available: {', '.join(known)}",
                              source=path, key="default_profile")
    return Config(path=path, origin=origin, profiles=profiles, default_profile=default)


def read_config_file(path: str | os.PathLike[str], *, origin: str = "load_config()") -> Config:
    """Read and validate one configuration file without making it active."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("configuration file does not exist", source=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file: {exc}", source=str(p)) from exc
    return parse_config(text, str(p.resolve()), origin=origin)


_PROFILE_KEYS = set(Profile().to_mapping()) | set(RESOURCE_KEYS)


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
