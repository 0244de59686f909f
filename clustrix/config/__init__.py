"""Configuration: profiles (what a cluster is), configuration files, and which profile is active.

Owns :class:`~clustrix.config.profile.Profile` (a frozen value), reading and validating YAML files
(:mod:`clustrix.config.files`) and the process/context state that decides which profile a call
uses (:mod:`clustrix.config.active`). May import :mod:`clustrix.errors` and :mod:`clustrix.spec`
only; everything that runs jobs imports this package, never the other way round.

The names below are the package's public face; import them from here.
"""

from __future__ import annotations

from clustrix.config.active import (
    active_profile_source,
    configure,
    get_config,
    load_config,
    reset_config,
    resolve_profile,
    set_session_profile,
    use_profile,
)
from clustrix.config.files import (
    BUILTIN_PROFILES,
    ENV_CONFIG,
    ENV_PROFILE,
    LOCAL_FILE,
    NO_CONFIG_WARNING,
    Config,
    ProfileLike,
    discover_config_path,
    parse_config,
    read_config_file,
    user_config_path,
)
from clustrix.config.profile import Profile

__all__ = [
    "BUILTIN_PROFILES", "ENV_CONFIG", "ENV_PROFILE", "LOCAL_FILE", "NO_CONFIG_WARNING", "Config",
    "Profile", "ProfileLike", "active_profile_source", "configure", "discover_config_path",
    "get_config", "load_config", "parse_config", "read_config_file", "reset_config",
    "resolve_profile", "set_session_profile", "use_profile", "user_config_path",
]
