"""Transports run argv lists and move files, locally or over SSH.

``transport_for(profile)`` picks one: :class:`LocalTransport` when the profile has no host,
otherwise the pooled :class:`SSHTransport` for the profile's host, port and user. The contract is
:class:`~clustrix.transports.base.Transport`; ``ssh_pool`` keeps one connection per host,
``ssh_config`` reads ``~/.ssh/config``, ``sftp_batch`` moves files with pipelined SFTP requests
(a few round trips for any number of files) and ``sftp_ops`` creates missing directories. May import
:mod:`clustrix.errors` and, for ``transport_for``, :mod:`clustrix.config`; nothing that runs jobs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from clustrix.transports.base import Completed, Transport
from clustrix.transports.local import LocalTransport

if TYPE_CHECKING:
    from clustrix.config.profile import Profile
    from clustrix.transports.ssh import SSHTransport

# paramiko logs dropped links at ERROR; a library must not print them unless the app asks
logging.getLogger("clustrix.transports").addHandler(logging.NullHandler())

__all__ = ["Completed", "LocalTransport", "SSHTransport", "Transport", "transport_for"]


def transport_for(profile: Profile) -> Transport:
    """The transport for ``profile``: local when ``profile.host`` is None, else SSH (pooled).

    The caller owns the returned transport and should ``close()`` it when done (for SSH this
    releases its share of the pooled connection).
    """
    if profile.host is None:
        return LocalTransport(command_timeout_s=profile.command_timeout_s)
    from clustrix.transports.ssh import SSHTransport

    return SSHTransport.connect(
        profile.host,
        port=profile.port,
        user=profile.user,
        key_file=profile.key_file,
        known_hosts=profile.known_hosts,
        host_key_policy=profile.host_key_policy,
        use_ssh_config=profile.use_ssh_config,
        command_timeout_s=profile.command_timeout_s,
    )


def __getattr__(name: str) -> object:
    # SSHTransport imports paramiko; only pay for it when asked
    if name == "SSHTransport":
        from clustrix.transports.ssh import SSHTransport

        return SSHTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
