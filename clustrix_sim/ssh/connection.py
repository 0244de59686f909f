"""One SSH connection's policy: public-key logins for one user, and which channel requests run.

:class:`ConnectionPolicy` is the ``paramiko.ServerInterface`` the server gives each connection:
only public-key authentication for the server's user; ``session`` channels whose ``exec`` or
``shell`` request starts an :class:`~clustrix_sim.ssh.exec_session.ExecSession`, with ``env``
requests added to its environment; ``direct-tcpip`` channels to loopback (or allowed) hosts only,
so a loopback simulator never becomes an open proxy; keepalive global requests answered.

It asks its server only what :class:`LoginNode` lists, so it does not import the server.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Mapping
from typing import Protocol

import paramiko

from clustrix_sim.ssh.exec_session import ExecSession

log = logging.getLogger("clustrix_sim.ssh")

__all__ = ["ConnectionPolicy", "LoginNode", "is_loopback"]


def is_loopback(address: str) -> bool:
    """True when ``address`` is a loopback IP literal or ``localhost``."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class LoginNode(Protocol):
    """What a connection needs from its server (:class:`clustrix_sim.ssh.server.SimSSHServer`)."""

    user: str
    home: str
    forward_hosts: frozenset[str]
    exec_delay_s: float

    def is_authorized(self, key: paramiko.PKey) -> bool: ...

    def command_env(self, extra: Mapping[str, str]) -> dict[str, str]: ...

    def track_thread(self, thread: threading.Thread) -> None: ...


class ConnectionPolicy(paramiko.ServerInterface):
    """Per-connection policy: who may log in and which channel requests are honoured.

    paramiko calls it on the connection's thread; sessions it accepts start an
    :class:`~clustrix_sim.ssh.exec_session.ExecSession` with ``server``'s environment.
    """

    def __init__(self, server: LoginNode, transport: paramiko.Transport):
        self.server = server
        self.transport = transport
        self.channel_env: dict[int, dict[str, str]] = {}
        self.forwards: dict[int, tuple[str, int]] = {}
        self.sessions: dict[int, paramiko.Channel] = {}
        self.lock = threading.Lock()

    # -- authentication: public key for the one user, nothing else
    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        return paramiko.AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        log.info("refused password login for %r", username)
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username == self.server.user and self.server.is_authorized(key):
            return paramiko.AUTH_SUCCESSFUL
        log.info("refused key %s for user %r", key.fingerprint, username)
        return paramiko.AUTH_FAILED

    # -- channels
    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_direct_tcpip_request(self, chanid: int, origin: tuple[str, int],
                                           destination: tuple[str, int]) -> int:
        host, port = destination
        # a loopback simulator must not become an open proxy to the network
        if not (is_loopback(host) or host in self.server.forward_hosts):
            log.info("refused direct-tcpip to %s:%s", host, port)
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        with self.lock:
            self.forwards[chanid] = (host, port)
        return paramiko.OPEN_SUCCEEDED

    def check_channel_env_request(self, channel: paramiko.Channel, name: bytes | str,
                                  value: bytes | str) -> bool:
        key = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        val = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        with self.lock:
            self.channel_env.setdefault(channel.get_id(), {})[key] = val
        return True

    def check_channel_pty_request(self, channel: paramiko.Channel, term: bytes, width: int,
                                  height: int, pixelwidth: int, pixelheight: int,
                                  modes: bytes) -> bool:
        return True  # accepted for clients that always ask; commands still run on pipes

    def check_channel_window_change_request(self, *args: object) -> bool:
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        text = command.decode("utf-8", "surrogateescape")
        self._start(channel, ["/bin/sh", "-c", text])
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self._start(channel, ["/bin/sh"])  # reads commands from the channel's stdin
        return True

    def check_global_request(self, kind: str, msg: paramiko.Message) -> bool:
        # keepalive@openssh.com and friends: any reply keeps a client's ServerAlive happy
        return kind.startswith("keepalive@")

    def _start(self, channel: paramiko.Channel, argv: list[str]) -> None:
        with self.lock:
            extra = self.channel_env.pop(channel.get_id(), {})
        env = self.server.command_env(extra)
        session = ExecSession(channel, self.transport, argv, cwd=self.server.home, env=env,
                              delay_s=self.server.exec_delay_s)
        self.server.track_thread(session.start())
