"""Choose the backend implementation for a profile.

Imports are deferred to the branch that needs them, so ``import clustrix`` never pulls in
paramiko and a local-only user never imports the SSH machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clustrix.config.profile import BACKENDS, Profile
from clustrix.errors import ConfigError

if TYPE_CHECKING:
    from clustrix.backends.base import Backend

REMOTE_BACKENDS = ("slurm", "pbs", "torque", "sge", "ssh")


def create_backend(profile: Profile) -> Backend:
    """A new backend instance for ``profile`` (each executor owns its own).

    ``local`` runs jobs in a process (or thread) pool on this machine, ``debug`` runs them in
    this process so breakpoints work, and the scheduler backends and ``ssh`` go through
    :class:`clustrix.backends.remote.backend.RemoteBackend`.
    """
    if not isinstance(profile, Profile):
        raise TypeError(f"create_backend() needs a Profile, got {type(profile).__name__}")
    if not profile.is_remote and profile.environment is not None:
        import warnings

        from clustrix.errors import ClustrixWarning

        warnings.warn(f"profile {profile.name!r}: environment is not used by the {profile.backend!r} backend; "
                      "its jobs run in this Python (pick a cluster backend for a job environment)",
                      ClustrixWarning, stacklevel=3)
    if profile.backend == "local":
        from clustrix.backends.local.backend import LocalBackend

        return LocalBackend(profile)
    if profile.backend == "debug":
        from clustrix.backends.local.debug import DebugBackend

        return DebugBackend(profile)
    if profile.backend in REMOTE_BACKENDS:
        try:
            from clustrix.backends.remote.backend import RemoteBackend
        except ModuleNotFoundError as exc:
            if exc.name != "clustrix.backends.remote.backend":
                raise  # a dependency of the remote backend is missing: show that, not this
            raise ConfigError(
                f"backend {profile.backend!r} is not available in this build of clustrix "
                "(clustrix.backends.remote.backend is missing); use backend 'local' or 'debug'",
                source=f"profile {profile.name!r}", key="backend",
            ) from exc
        return RemoteBackend(profile)
    # Profile validates backend names, so this means BACKENDS grew without a branch here.
    raise ConfigError(f"no backend implementation for {profile.backend!r} (known: {', '.join(BACKENDS)})",
                      source=f"profile {profile.name!r}", key="backend")
