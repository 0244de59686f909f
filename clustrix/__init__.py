"""clustrix: run Python functions on HPC clusters, and test that code without one.

::

    from clustrix import cluster

    @cluster(cores=4, memory="8GB", time="01:00:00")
    def simulate(seed): ...

    simulate(42)   # runs as a batch job; returns its value or re-raises its exception

Importing clustrix is cheap: SSH, pickling and backend code load only when a job is submitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clustrix.config import (
    Config,
    configure,
    get_config,
    load_config,
    reset_config,
    resolve_profile,
    use_profile,
)
from clustrix.decorator import ClusterFunction, cluster
from clustrix.errors import (
    AuthenticationError,
    ClustrixError,
    CommandError,
    CommandTimeoutError,
    ConfigError,
    ConnectionLostError,
    HostKeyError,
    JobCancelledError,
    JobError,
    JobFailedError,
    JobLostError,
    JobNodeFailError,
    JobOutOfMemoryError,
    JobPreemptedError,
    JobTimeoutError,
    PayloadAuthError,
    PayloadError,
    RemoteError,
    ResourceError,
    SchedulerOutputError,
    SubmissionError,
    TransportError,
)
from clustrix.executor import ClusterExecutor, in_job
from clustrix.profile import Profile
from clustrix.spec import Resources
from clustrix.states import JobState, JobStatus

if TYPE_CHECKING:
    from clustrix.futures import JobFuture

__version__ = "0.3.0.dev0"

__all__ = [
    "AuthenticationError",
    "ClusterExecutor",
    "ClusterFunction",
    "ClustrixError",
    "CommandError",
    "CommandTimeoutError",
    "Config",
    "ConfigError",
    "ConnectionLostError",
    "HostKeyError",
    "JobCancelledError",
    "JobError",
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
    "Profile",
    "RemoteError",
    "ResourceError",
    "Resources",
    "SchedulerOutputError",
    "SubmissionError",
    "TransportError",
    "__version__",
    "cluster",
    "configure",
    "get_config",
    "in_job",
    "load_config",
    "reset_config",
    "resolve_profile",
    "use_profile",
]


def __getattr__(name: str) -> Any:
    # JobFuture pulls in the result/pickling machinery; load it only when someone asks.
    if name == "JobFuture":
        from clustrix.futures import JobFuture

        return JobFuture
    raise AttributeError(f"module 'clustrix' has no attribute {name!r}")
