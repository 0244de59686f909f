"""Job environments on the cluster: the interpreter a profile's jobs run, and a venv built for them.

A profile's ``environment`` (:mod:`clustrix.config.environment`) names an existing interpreter, a
conda environment, modules to load, or requirements; for requirements clustrix builds a venv on
the cluster once per content hash and every job of every later session reuses it.

- :mod:`~clustrix.backends.environment.wheels` — wheels made here: installed pure distributions
  repacked, local projects built, downloads for the remote interpreter;
- :mod:`~clustrix.backends.environment.plan` — the requirement list, the wheels, the content hash;
- :mod:`~clustrix.backends.environment.remote` — the probe and build scripts run on the cluster
  (lock, deadline, log, completion marker);
- :mod:`~clustrix.backends.environment.manager` — :class:`EnvironmentManager`, which the remote
  backend asks for the job interpreter before its first submission, and
  :func:`prepare_environment` for tools outside a backend.

Part of the backends layer: may import :mod:`clustrix.transports`, :mod:`clustrix.config`,
:mod:`clustrix.paths`, :mod:`clustrix.spec` and :mod:`clustrix.errors`; the remote backend imports
it, never the other way round.
"""

from __future__ import annotations

from clustrix.backends.environment.manager import (
    EnvironmentManager,
    JobInterpreter,
    prepare_environment,
)

__all__ = ["EnvironmentManager", "JobInterpreter", "prepare_environment"]
