"""One SSH connection per (host, port, user), shared by every executor and thread, and kept alive.

A :class:`Connection` owns a paramiko ``SSHClient``, its lazily opened SFTP channel and, for
ProxyJump, the connection to the jump host. It reconnects with bounded exponential backoff when
the link drops. Host keys are verified against known_hosts (``strict``) or recorded when new
(``accept-new``); never silently accepted. paramiko, socket and OS errors are translated into
the clustrix error tree here, once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

import paramiko

from clustrix.errors import AuthenticationError, ConnectionLostError, HostKeyError, TransportError
from clustrix.transports.ssh_config import Endpoint

log = logging.getLogger("clustrix.transports.ssh")
PARAMIKO_LOG_CHANNEL = "clustrix.transports.ssh.paramiko"

#: paramiko exceptions and what a dead link raises
LINK_ERRORS = (paramiko.SSHException, EOFError, OSError)
DEAD_LINK_ERRORS = (EOFError, OSError)
"""Errors that mean the connection itself is gone, even if paramiko still reports it active."""


@dataclass(frozen=True)
class ConnectOptions:
    """How to (re)connect. Times in seconds."""

    host_key_policy: str = "strict"
    connect_timeout_s: float = 15.0
    keepalive_s: float = 15.0
    tcp_nodelay: bool = True
    reconnect_attempts: int = 5
    reconnect_backoff_s: float = 0.5
    reconnect_max_delay_s: float = 4.0
    max_sessions: int = 8  # OpenSSH's MaxSessions defaults to 10 per connection; keep headroom

    def __post_init__(self) -> None:
        if self.host_key_policy not in ("strict", "accept-new"):
            raise ValueError(f"unknown host_key_policy {self.host_key_policy!r}; use 'strict' or "
                             "'accept-new' (there is deliberately no auto-add)")
        if self.reconnect_attempts < 1 or self.max_sessions < 1:
            raise ValueError("reconnect_attempts and max_sessions must be at least 1")


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko for a host absent from every known_hosts file."""

    _write_lock = threading.Lock()

    def __init__(self, endpoint: Endpoint, policy: str):
        self.endpoint = endpoint
        self.policy = policy

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        files = self.endpoint.known_hosts_files
        if self.policy != "accept-new" or not files:
            where = ", ".join(files + self.endpoint.read_only_known_hosts) or "(no known_hosts file)"
            port_flag = f"-p {self.endpoint.port} " if self.endpoint.port != 22 else ""
            target = files[0] if files else "~/.ssh/known_hosts"
            raise HostKeyError(
                f"host key for {hostname} is not in {where}; the server offered {key.get_name()} "
                f"{key.fingerprint}. If that fingerprint is right, add it with "
                f"`ssh-keyscan {port_flag}{self.endpoint.hostname} >> {target}` "
                "(then compare the fingerprint) or connect once with host_key_policy='accept-new'",
                host=self.endpoint.display)
        path = files[0]
        line = paramiko.hostkeys.HostKeyEntry([hostname], key).to_line()
        with self._write_lock:
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="ascii") as handle:
                handle.write(line)
        client.get_host_keys().add(hostname, key.get_name(), key)
        log.warning("accept-new: recorded new host key %s %s for %s in %s",
                    key.get_name(), key.fingerprint, hostname, path)


def _changed_key_error(endpoint: Endpoint, exc: paramiko.BadHostKeyException) -> HostKeyError:
    known = endpoint.known_hosts_files[0] if endpoint.known_hosts_files else "~/.ssh/known_hosts"
    return HostKeyError(
        f"HOST KEY CHANGED for {endpoint.known_hosts_name}: known_hosts has "
        f"{exc.expected_key.get_name()} {exc.expected_key.fingerprint}, the server offered "
        f"{exc.key.get_name()} {exc.key.fingerprint}. This can be a man-in-the-middle attack; if "
        f"the host was really reinstalled, remove the old entry with `ssh-keygen -R "
        f"'{endpoint.known_hosts_name}' -f {known}` and connect again",
        host=endpoint.display, cause=exc)


class Connection:
    """A pooled, self-healing SSH connection to one endpoint."""

    def __init__(self, endpoint: Endpoint, options: ConnectOptions):
        self.endpoint = endpoint
        self.options = options
        self.sessions = threading.BoundedSemaphore(options.max_sessions)
        self.refs = 0
        self._lock = threading.RLock()  # held while (re)connecting: one reconnect, not N
        self._sftp_lock = threading.Lock()
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.home_dir: str | None = None  # cached by SSHTransport.home()
        self._jump: Connection | None = None
        self.generation = 0
        self._closed = False
        self._failures = 0  # completed reconnect cycles that failed
        self._last_failure: TransportError | None = None

    @property
    def display(self) -> str:
        return self.endpoint.display

    # -- connecting
    def _open_socket(self) -> socket.socket | paramiko.Channel | paramiko.ProxyCommand:
        ep, opts = self.endpoint, self.options
        if ep.jump is not None:
            if self._jump is None:
                self._jump = Connection(ep.jump, opts)
            jump_transport, _ = self._jump.ensure()
            try:
                return jump_transport.open_channel("direct-tcpip", (ep.hostname, ep.port),
                                                   ("127.0.0.1", 0), timeout=opts.connect_timeout_s)
            except LINK_ERRORS as exc:
                raise TransportError(f"jump host {ep.jump.display} could not reach "
                                     f"{ep.hostname}:{ep.port}: {exc}", host=ep.display, cause=exc) from exc
        if ep.proxy_command:
            return paramiko.ProxyCommand(ep.proxy_command)
        try:
            sock = socket.create_connection((ep.hostname, ep.port), timeout=opts.connect_timeout_s)
        except OSError as exc:
            raise TransportError(f"cannot connect to {ep.hostname}:{ep.port}: {exc}",
                                 host=ep.display, cause=exc) from exc
        if opts.tcp_nodelay:
            # without it every small SSH packet waits on Nagle + delayed ACK (~40 ms a command)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock

    def _connect_once(self) -> paramiko.SSHClient:
        ep, opts = self.endpoint, self.options
        client = paramiko.SSHClient()
        client.set_log_channel(PARAMIKO_LOG_CHANNEL)
        for path in ep.read_only_known_hosts:
            client.load_system_host_keys(path)
        for path in ep.known_hosts_files:
            if os.path.exists(path):
                client.get_host_keys().load(path)
        client.set_missing_host_key_policy(_HostKeyPolicy(ep, opts.host_key_policy))
        sock = self._open_socket()
        key_files = [p for p in ep.key_files if os.path.exists(p)]
        try:
            client.connect(
                ep.hostname, ep.port, username=ep.user, key_filename=key_files or None,
                timeout=opts.connect_timeout_s, banner_timeout=opts.connect_timeout_s,
                auth_timeout=opts.connect_timeout_s, channel_timeout=opts.connect_timeout_s,
                allow_agent=not ep.identities_only, look_for_keys=not ep.identities_only, sock=sock,
            )
        except TransportError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise _changed_key_error(ep, exc) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            tried = ", ".join(key_files) or "no key file"
            raise AuthenticationError(
                f"the server refused every key for user {ep.user!r} (tried {tried}"
                f"{'' if ep.identities_only else ', ssh-agent keys and ~/.ssh/id_* defaults'}): {exc}. "
                f"Check the public key is in ~{ep.user}/.ssh/authorized_keys on the host and "
                "key_file / User in the profile or ~/.ssh/config",
                host=ep.display, cause=exc) from exc
        except paramiko.SSHException as exc:
            client.close()
            if "No authentication methods available" in str(exc):
                raise AuthenticationError(
                    "no private key to offer: set key_file in the profile, IdentityFile in "
                    "~/.ssh/config, or load a key into ssh-agent", host=ep.display, cause=exc) from exc
            raise TransportError(f"SSH handshake failed: {exc}", host=ep.display, cause=exc) from exc
        except (EOFError, OSError) as exc:
            client.close()
            raise TransportError(f"connection failed during the SSH handshake: {exc!r}",
                                 host=ep.display, cause=exc) from exc
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(max(1, int(opts.keepalive_s)))
        return client

    def ensure(self) -> tuple[paramiko.Transport, int]:
        """The live transport and its generation, reconnecting (with backoff) if it dropped.

        The first connection gets one attempt (a typo should fail fast); later ones retry.
        Host key and authentication errors are never retried.
        """
        seen_failures = self._failures
        with self._lock:
            if self._closed:
                raise TransportError("this SSH connection was closed", host=self.display)
            if self._failures != seen_failures and self._last_failure is not None:
                # a whole reconnect cycle just failed while this thread waited for the lock:
                # report it instead of making every waiting thread sit through another one
                raise ConnectionLostError("reconnecting failed moments ago (see the cause); "
                                          "not retrying again yet", host=self.display,
                                          cause=self._last_failure)
            client = self._client
            if client is not None:
                transport = client.get_transport()
                if transport is not None and transport.is_active():
                    return transport, self.generation
            first = self.generation == 0
            self._drop_client()
            attempts = 1 if first else self.options.reconnect_attempts
            delay = self.options.reconnect_backoff_s
            last: TransportError | None = None
            for attempt in range(attempts):
                if attempt:
                    time.sleep(delay)
                    delay = min(delay * 2, self.options.reconnect_max_delay_s)
                try:
                    self._client = self._connect_once()
                except (HostKeyError, AuthenticationError):
                    raise
                except TransportError as exc:
                    last = exc
                    log.info("connect to %s failed (attempt %d/%d): %s", self.display, attempt + 1,
                             attempts, exc)
                    continue
                self.generation += 1
                if not first:
                    log.warning("reconnected to %s", self.display)
                transport = self._client.get_transport()
                assert transport is not None
                return transport, self.generation
            assert last is not None
            failure = last if first else ConnectionLostError(
                f"connection lost and {attempts} reconnect attempts failed; last error: {last}",
                host=self.display, cause=last)
            self._failures += 1
            self._last_failure = failure
            raise failure

    def invalidate(self, generation: int) -> None:
        """Forget the link of ``generation`` (it failed) so the next ``ensure`` reconnects."""
        with self._lock:
            if generation == self.generation:
                self._drop_client()

    def reset_sftp(self, broken: paramiko.SFTPClient) -> None:
        """Forget a failed SFTP channel (the connection itself is fine); reopened on next use."""
        with self._lock:
            if self._sftp is broken:
                self._sftp = None
        try:
            broken.close()
        except Exception:  # already dead
            pass

    def _drop_client(self) -> None:
        sftp, self._sftp = self._sftp, None
        client, self._client = self._client, None
        for thing in (sftp, client):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing a dead link can raise anything; it is gone either way
                    pass

    # -- SFTP: one channel per connection, reopened after a reconnect
    def sftp(self) -> tuple[paramiko.SFTPClient, int, threading.Lock]:
        """The shared SFTP client, its generation and the lock callers hold while using it."""
        transport, generation = self.ensure()
        with self._lock:
            if self._sftp is None or generation != self.generation:
                try:
                    self._sftp = paramiko.SFTPClient.from_transport(
                        transport, window_size=None, max_packet_size=None)
                except LINK_ERRORS as exc:
                    self.invalidate(generation)
                    raise ConnectionLostError(f"cannot open the SFTP channel: {exc!r}",
                                              host=self.display, cause=exc) from exc
                if self._sftp is None:
                    raise TransportError("the server refused the SFTP subsystem", host=self.display)
            return self._sftp, generation, self._sftp_lock

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop_client()
            if self._jump is not None:
                self._jump.close()
                self._jump = None


class Pool:
    """Process-wide map (host, port, user) -> Connection, reference counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[tuple[str, int, str], Connection] = {}

    def acquire(self, endpoint: Endpoint, options: ConnectOptions) -> Connection:
        key = (endpoint.hostname, endpoint.port, endpoint.user)
        with self._lock:
            conn = self._connections.get(key)
            if conn is None:
                conn = Connection(endpoint, options)
                self._connections[key] = conn
            conn.refs += 1
        try:
            conn.ensure()  # connect now: bad keys and hosts fail at connect(), not first run()
        except BaseException:
            self.release(conn)
            raise
        return conn

    def release(self, conn: Connection) -> None:
        with self._lock:
            conn.refs -= 1
            if conn.refs > 0:
                return
            key = (conn.endpoint.hostname, conn.endpoint.port, conn.endpoint.user)
            if self._connections.get(key) is conn:
                del self._connections[key]
        conn.close()

    def keys(self) -> list[tuple[str, int, str]]:
        """The (host, port, user) of every pooled connection."""
        with self._lock:
            return list(self._connections)

    def __len__(self) -> int:
        with self._lock:
            return len(self._connections)


POOL = Pool()
