"""Configuration files: where they are found, and how they are read and validated.

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
key; nothing is ignored and nothing silently falls back. Which profile a call uses is decided in
:mod:`clustrix.config.active`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clustrix.config.profile import Profile
from clustrix.errors import ConfigError, ConfigErrors, did_you_mean
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


@functools.lru_cache(maxsize=1)
def _strict_loader() -> type:
    """A SafeLoader that rejects duplicate keys (PyYAML otherwise keeps the last one silently).

    Built on first use: a job importing the user's module that says ``from clustrix import
    cluster`` must not need PyYAML on the compute node, where no configuration file is read.
    """
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


def parse_config(text: str, path: str, *, origin: str = "load_config()") -> Config:
    """Parse and validate configuration text; ``path`` is only used to name errors."""
    import yaml

    try:
        data = yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
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
    problems: list[ConfigError] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = " (profile settings go under profiles.NAME)" if key in _PROFILE_KEYS else ""
            problems.append(ConfigError(f"unknown top-level key{did_you_mean(key, TOP_LEVEL_KEYS)}; valid keys "
                                        f"are: {', '.join(TOP_LEVEL_KEYS)}{hint}", source=path, key=str(key)))
    raw_profiles = data.get("profiles") or {}
    if not isinstance(raw_profiles, Mapping):
        problems.append(ConfigError("must be a mapping of NAME: {backend: ..., ...}", source=path, key="profiles"))
        raw_profiles = {}
    profiles: dict[str, Profile] = {}
    for name, body in raw_profiles.items():
        if not isinstance(name, str) or not name.strip():
            problems.append(ConfigError(f"profile names must be non-empty strings, got {name!r}", source=path,
                                        key="profiles"))
            continue
        try:
            profiles[name] = Profile.from_mapping(body if body is not None else {}, name=name,
                                                  source=f"{path}: profiles.{name}")
        except ConfigError as exc:  # every profile is checked, so one run reports every problem
            problems.append(exc)
    default = data.get("default_profile")
    if default is not None:
        known = sorted(set(raw_profiles) | set(BUILTIN_PROFILES))
        if not isinstance(default, str) or default not in known:
            problems.append(ConfigError(f"{default!r} is not a profile in this file{did_you_mean(default, known)}; "
                                        f"available: {', '.join(map(str, known))}", source=path,
                                        key="default_profile"))
    if problems:
        raise ConfigErrors.of(problems)
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
