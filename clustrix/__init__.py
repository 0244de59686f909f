"""clustrix: run Python functions on HPC clusters, and test that code without one.

::

    from clustrix import cluster

    @cluster(cores=4, memory="8GB", time="01:00:00")
    def simulate(seed): ...

    simulate(42)   # runs as a batch job; returns its value or re-raises its exception

Importing clustrix is cheap: SSH, pickling and backend code load only when a job is submitted.

The package's folders follow a call's path: :mod:`clustrix.api` (decorator, executor) makes a
:class:`~clustrix.spec.JobSpec`, :mod:`clustrix.payload` signs the call, a backend
(:mod:`clustrix.backends`) renders the script with a pure :mod:`clustrix.schedulers` module and
runs it through :mod:`clustrix.transports`, :mod:`clustrix.polling` watches the job, and the
:class:`~clustrix.futures.JobFuture` resolves. Import the public names from here.
"""

from __future__ import annotations

import importlib

# Not ``from typing import TYPE_CHECKING``: typing alone costs ~20 ms, once per job.
TYPE_CHECKING = False

# Every public name loads on first use (PEP 562): ``python -m clustrix.runner`` imports this
# package once per job, and the pytest plugin must not pay for yaml and the config machinery
# in projects that never call clustrix.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        ["Config", "configure", "get_config", "load_config", "reset_config", "resolve_profile",
         "use_profile"], "clustrix.config"),
    **dict.fromkeys(["ClusterFunction", "cluster"], "clustrix.api.decorator"),
    **dict.fromkeys(["ClusterExecutor", "in_job"], "clustrix.api.executor"),
    **dict.fromkeys(
        ["AuthenticationError", "ClustrixError", "ClustrixWarning", "CommandError", "CommandTimeoutError",
         "ConfigError", "ConfigErrors", "ConnectionLostError", "HostKeyError", "JobCancelledError", "JobError",
         "JobExitError", "JobFailedError",
         "JobLostError", "JobNodeFailError", "JobOutOfMemoryError", "JobPreemptedError",
         "JobTimeoutError", "PayloadAuthError", "PayloadError", "PreflightError", "RemoteError", "ResourceError",
         "SchedulerOutputError", "SubmissionError", "TransportError"], "clustrix.errors"),
    "JobFuture": "clustrix.futures",
    "attach": "clustrix.api.attach",
    "timeline": "clustrix.api.timeline",
    "Profile": "clustrix.config.profile",
    "Resources": "clustrix.spec",
    "JobState": "clustrix.states",
    "JobStatus": "clustrix.states",
}

if TYPE_CHECKING:
    from clustrix.api.attach import attach
    from clustrix.api.decorator import ClusterFunction, cluster
    from clustrix.api.executor import ClusterExecutor, in_job
    from clustrix.api.timeline import timeline
    from clustrix.config import (
        Config,
        configure,
        get_config,
        load_config,
        reset_config,
        resolve_profile,
        use_profile,
    )
    from clustrix.config.profile import Profile
    from clustrix.errors import (
        AuthenticationError,
        ClustrixError,
        ClustrixWarning,
        CommandError,
        CommandTimeoutError,
        ConfigError,
        ConfigErrors,
        ConnectionLostError,
        HostKeyError,
        JobCancelledError,
        JobError,
        JobExitError,
        JobFailedError,
        JobLostError,
        JobNodeFailError,
        JobOutOfMemoryError,
        JobPreemptedError,
        JobTimeoutError,
        PayloadAuthError,
        PayloadError,
        PreflightError,
        RemoteError,
        ResourceError,
        SchedulerOutputError,
        SubmissionError,
        TransportError,
    )
    from clustrix.futures import JobFuture
    from clustrix.spec import Resources
    from clustrix.states import JobState, JobStatus

__version__ = "0.3.0.dev0"

__all__ = [
    "AuthenticationError",
    "ClusterExecutor",
    "ClusterFunction",
    "ClustrixError",
    "ClustrixWarning",
    "CommandError",
    "CommandTimeoutError",
    "Config",
    "ConfigError",
    "ConfigErrors",
    "ConnectionLostError",
    "HostKeyError",
    "JobCancelledError",
    "JobError",
    "JobExitError",
    "JobFailedError",
    "JobFuture",
    "JobLostError",
    "JobNodeFailError",
    "JobOutOfMemoryError",
    "JobPreemptedError",
    "JobState",
    "JobStatus",
    "JobTimeoutError",
    "PayloadAuthError",
    "PayloadError",
    "PreflightError",
    "Profile",
    "RemoteError",
    "ResourceError",
    "Resources",
    "SchedulerOutputError",
    "SubmissionError",
    "TransportError",
    "__version__",
    "attach",
    "cluster",
    "configure",
    "get_config",
    "in_job",
    "load_config",
    "reset_config",
    "resolve_profile",
    "timeline",
    "use_profile",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clustrix' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
