"""The simulated login node's SSH front door: a paramiko SSH server on loopback.

``SimSSHServer`` accepts public-key logins for one user, runs ``exec`` requests with
``/bin/sh -c`` in the user's home directory and environment (so the scheduler tool scripts on ``PATH``
answer ``sbatch``/``squeue``...), serves SFTP over the real filesystem, and forwards
``direct-tcpip`` channels to loopback ports (so a second server can act as a ProxyJump host).

Behaviour that clients depend on and real sshd has:

- stdout and stderr are streamed back concurrently, with SSH flow control: a client that does
  not read stalls the command instead of the server buffering without bound;
- stdin is forwarded, and the client's EOF closes the command's stdin;
- the exit status is sent (128+N for a command killed by signal N, as a shell reports it);
- when the client closes the channel or the connection drops mid-command, the command's whole
  process group is killed (TERM, then KILL after a grace period);
- it refuses to listen on anything but a loopback address.

Fault injection: :meth:`SimSSHServer.drop_connections` cuts every TCP connection without an SSH
disconnect message, as a NAT timeout or a rebooted bastion would; :meth:`set_exec_delay` makes
every command start late. Nothing here imports ``clustrix``; logging goes to the
``clustrix_sim.ssh`` logger, never stdout. ``python -m clustrix_sim.ssh`` runs it as its own
process (:mod:`clustrix_sim.ssh.__main__`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import paramiko

from clustrix_sim.ssh.connection import ConnectionPolicy, is_loopback
from clustrix_sim.ssh.exec_session import forward_channel
from clustrix_sim.ssh.sftp import SimSFTPServer

log = logging.getLogger("clustrix_sim.ssh")
log.addHandler(logging.NullHandler())  # paramiko's ERROR lines must not reach stderr unasked
PARAMIKO_LOG_CHANNEL = "clustrix_sim.ssh.paramiko"

__all__ = ["SimSSHServer", "is_loopback"]


def _wake_accept(transport: paramiko.Transport) -> None:
    """Wake a thread blocked in ``transport.accept()`` (paramiko skips this when the peer hung up)."""
    cv = getattr(transport, "server_accept_cv", None)
    if cv is not None:
        with cv:
            cv.notify_all()


class SimSSHServer:
    """An SSH server for one user on a loopback port (see the module docstring).

    ``env`` is the base environment of every command (it should contain the ``PATH`` with the
    scheduler tools); ``HOME``, ``USER``, ``LOGNAME`` and ``SHELL`` are set from ``home`` and
    ``user``, and per-channel ``env`` requests from the client are added on top.
    """

    def __init__(
        self,
        authorized_keys: Iterable[paramiko.PKey],
        host_key: paramiko.PKey,
        env: Mapping[str, str],
        home: str,
        user: str,
        bind: str = "127.0.0.1",
        port: int = 0,
        *,
        tcp_nodelay: bool = True,
        forward_hosts: Iterable[str] = (),
    ):
        self.authorized_keys = list(authorized_keys)
        if not self.authorized_keys:
            raise ValueError("authorized_keys is empty: nobody could log in; pass the client's key")
        self.host_key = host_key
        self.on_read: Callable[[str], None] | None = None  # SFTP reads pass their path here first
        self.env = dict(env)
        self.home = os.path.abspath(home)
        self.user = user
        self.bind = bind
        self.requested_port = port
        self.tcp_nodelay = tcp_nodelay
        self.forward_hosts = frozenset(forward_hosts)
        self.exec_delay_s = 0.0
        self.port: int | None = None
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._transports: set[paramiko.Transport] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- lifecycle
    def start(self) -> SimSSHServer:
        """Bind and listen; returns once connections are accepted. ``.port`` is then set."""
        if not is_loopback(self.bind):
            raise ValueError(f"refusing to bind the simulator's SSH server to {self.bind!r}: "
                             "it runs commands for anyone holding the key; use 127.0.0.1 or ::1")
        if not os.path.isdir(self.home):
            raise ValueError(f"home directory {self.home!r} does not exist; create it first")
        if self._listener is not None:
            raise RuntimeError("SimSSHServer already started")
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.bind, self.requested_port))
        listener.listen(128)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._stopping.clear()
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"sim-sshd-{self.port}",
                                               daemon=True)
        self._accept_thread.start()
        log.info("listening on %s:%s for user %s", self.bind, self.port, self.user)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop listening, cut every connection, kill running commands and join the threads."""
        self._stopping.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
            except OSError:
                pass
            listener.close()
        self.drop_connections()
        deadline = time.monotonic() + timeout_s
        if self._accept_thread is not None:
            self._accept_thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        log.info("stopped server on port %s", self.port)

    def __enter__(self) -> SimSSHServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- fault injection and introspection
    def drop_connections(self) -> int:
        """Cut every open connection abruptly (no SSH disconnect message); returns how many.

        Commands running on those connections are killed, as sshd's children die with it.
        """
        with self._lock:
            transports = list(self._transports)
            self._transports.clear()
        for transport in transports:
            sock = transport.sock
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            transport.close()
            _wake_accept(transport)
        if transports:
            log.info("dropped %d connection(s)", len(transports))
        return len(transports)

    @property
    def connection_count(self) -> int:
        """Open (authenticated or negotiating) connections right now."""
        with self._lock:
            self._transports = {t for t in self._transports if t.is_active()}
            return len(self._transports)

    def set_exec_delay(self, seconds: float) -> None:
        """Delay the start of every later command by ``seconds`` (a slow login node)."""
        if seconds < 0:
            raise ValueError(f"exec delay must be >= 0 seconds, got {seconds!r}")
        self.exec_delay_s = float(seconds)

    # -- helpers used by the per-connection interface
    def is_authorized(self, key: paramiko.PKey) -> bool:
        offered = (key.get_name(), key.asbytes())
        return any((k.get_name(), k.asbytes()) == offered for k in self.authorized_keys)

    def command_env(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **self.env}
        env.update(HOME=self.home, USER=self.user, LOGNAME=self.user, SHELL="/bin/sh")
        env.update(extra)
        return env

    def track_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    # -- connection handling
    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None and not self._stopping.is_set():
            try:
                conn, addr = listener.accept()
            except OSError:
                break  # listener shut down by stop()
            if self.tcp_nodelay:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(conn, addr), daemon=True,
                                      name=f"sim-sshd-conn-{addr[1]}")
            self.track_thread(thread)
            thread.start()

    def _serve(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        transport = paramiko.Transport(conn)
        transport.set_log_channel(PARAMIKO_LOG_CHANNEL)
        transport.add_server_key(self.host_key)
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, SimSFTPServer, self.home, self.on_read)
        interface = ConnectionPolicy(self, transport)
        with self._lock:
            if self._stopping.is_set():
                conn.close()
                return
            self._transports.add(transport)
        try:
            transport.start_server(server=interface)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.info("handshake with %s failed: %s", addr, exc)
            transport.close()
            with self._lock:
                self._transports.discard(transport)
            return
        # channels come out of accept(); sessions are driven by the interface callbacks already,
        # direct-tcpip channels need a forwarder
        while transport.is_active() and not self._stopping.is_set():
            channel = transport.accept(timeout=1.0)
            if channel is None:
                continue
            with interface.lock:
                target = interface.forwards.pop(channel.get_id(), None)
                # paramiko holds channels weakly and a collected Channel closes itself: keep
                # session channels alive until they are done (their exec request may not have
                # arrived yet)
                interface.sessions = {c.get_id(): c for c in interface.sessions.values() if not c.closed}
                if target is None:
                    interface.sessions[channel.get_id()] = channel
            if target is not None:
                thread = threading.Thread(target=forward_channel, args=(channel, target), daemon=True,
                                          name=f"sim-sshd-fwd-{target[1]}")
                self.track_thread(thread)
                thread.start()
        with self._lock:
            self._transports.discard(transport)
        transport.close()
