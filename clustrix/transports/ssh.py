"""SSHTransport: the Transport protocol over a pooled paramiko connection.

- Commands: ``shlex.join(argv)`` is the remote command line, so every argument is quoted and the
  remote shell runs exactly one command whatever the values contain. stdout and stderr are drained
  together (a command writing megabytes to both never deadlocks), every wait has a deadline, and a
  timed-out command's channel is closed (sshd then kills it).
- Reconnects: a dropped connection is re-established with bounded backoff. A command that was
  already sent when the link died may or may not have run, so it is retried only when the caller
  says it is safe (``retry_safe=True``: status queries, reads); otherwise
  :class:`~clustrix.errors.ConnectionLostError` tells the caller to find out (e.g. list the queue
  before submitting again). Failures before the command was sent are always retried.
- Files: one SFTP channel per connection, reused and reopened after a reconnect. Requests are
  pipelined (:mod:`clustrix.transports.sftp_batch`): a job directory and all its files cost two
  round trips, reading any number of small files two. Writes go to a temporary name created
  0600, get their exact mode before any byte is written, and are renamed into place.
"""

from __future__ import annotations

import posixpath
import select
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import paramiko

from clustrix.errors import CommandTimeoutError, ConnectionLostError, TransportError
from clustrix.transports import sftp_batch, sftp_ops
from clustrix.transports.base import (
    DIR_MODE,
    FILE_MODE,
    Completed,
    FileStat,
    check_timeout,
    decode_output,
    expand_home,
    validate_argv,
)
from clustrix.transports.ssh_config import resolve_endpoint
from clustrix.transports.ssh_pool import (
    DEAD_LINK_ERRORS,
    LINK_ERRORS,
    POOL,
    Connection,
    ConnectOptions,
)

__all__ = ["SSHTransport"]

CHUNK_BYTES = 64 * 1024
LIVENESS_CHECK_S = 1.0  # while waiting on a command, re-check the link at least this often
NO_EXIT_STATUS = 255  # what OpenSSH's client reports when the server sends no exit status
T = TypeVar("T")


def _some(paths: Sequence[str], shown: int = 3) -> str:
    """Paths for an error message: all of a few, the first ``shown`` of many."""
    if len(paths) <= shown:
        return ", ".join(paths)
    return f"{', '.join(paths[:shown])} and {len(paths) - shown} more"


class _LinkLost(Exception):
    """Internal: the connection died; ``sent`` says whether the command may have started."""

    def __init__(self, cause: BaseException | None, sent: bool):
        super().__init__(repr(cause))
        self.cause = cause
        self.sent = sent


class _ChannelRefused(Exception):
    """Internal: the server closed a fresh session channel before accepting the command.

    The server answers an exec request before the command produces anything, so a channel
    closed before that answer never ran the command: trying again on a new channel is safe.
    """

    def __init__(self, error: TransportError):
        super().__init__(str(error))
        self.error = error


CHANNEL_RETRIES = 2
CHANNEL_RETRY_PAUSE_S = 0.05


class SSHTransport:
    """Run commands and move files on one host over SSH (see the module docstring)."""

    def __init__(self, connection: Connection, command_timeout_s: float = 60.0):
        self._conn = connection
        self.command_timeout_s = check_timeout(command_timeout_s)
        self.host: str | None = connection.display
        self._closed = False
        self._close_lock = threading.Lock()
        self._uid: int | None = None

    @classmethod
    def connect(
        cls,
        host: str,
        port: int | None = None,
        user: str | None = None,
        key_file: str | None = None,
        known_hosts: str | None = None,
        host_key_policy: str = "strict",
        use_ssh_config: bool = True,
        connect_timeout_s: float = 15.0,
        command_timeout_s: float | None = 60.0,
        *,
        ssh_config_path: str | None = None,
        keepalive_s: float = 15.0,
        reconnect_attempts: int = 5,
        reconnect_backoff_s: float = 0.5,
        tcp_nodelay: bool = True,
        max_sessions: int = 8,
    ) -> SSHTransport:
        """Connect (or join the pooled connection) to ``host`` and authenticate.

        ``host`` may be an alias from ``~/.ssh/config`` (``ssh_config_path`` overrides the file);
        explicit arguments win over the config. ``known_hosts`` replaces the known_hosts files
        (default: the config's UserKnownHostsFile, else ~/.ssh/known_hosts, plus the system file).
        ``host_key_policy`` is ``strict`` (unknown or changed key -> HostKeyError) or
        ``accept-new`` (unknown keys are recorded; changed keys still refused). Keys are tried
        from ``key_file``, IdentityFile, ssh-agent and ~/.ssh/id_* (the last two unless
        IdentitiesOnly). Reconnection makes ``reconnect_attempts`` tries with delays doubling
        from ``reconnect_backoff_s`` (0.5, 1, 2, 4 s by default).

        The connection is shared by every transport for the same (host, port, user); the
        options of the first one to connect apply. Call :meth:`close` to release it.
        """
        endpoint = resolve_endpoint(host, port, user, key_file, known_hosts,
                                    use_ssh_config=use_ssh_config, ssh_config_path=ssh_config_path)
        options = ConnectOptions(
            host_key_policy=host_key_policy, connect_timeout_s=connect_timeout_s,
            keepalive_s=keepalive_s, tcp_nodelay=tcp_nodelay, reconnect_attempts=reconnect_attempts,
            reconnect_backoff_s=reconnect_backoff_s, max_sessions=max_sessions,
        )
        return cls(POOL.acquire(endpoint, options), command_timeout_s)

    def __repr__(self) -> str:
        return f"SSHTransport({self.host!r})"

    def __enter__(self) -> SSHTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release this handle; the pooled connection closes when its last handle is released."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        POOL.release(self._conn)

    # -- commands
    def run(self, argv: Sequence[str], *, stdin: bytes | str | None = None,
            timeout_s: float | None = None, retry_safe: bool = False) -> Completed:
        """Run ``argv`` on the host (see :meth:`clustrix.transports.base.Transport.run`).

        ``retry_safe=True`` declares that running the command twice is harmless (a status query,
        a read): if the connection drops mid-command it is re-run after reconnecting. Leave it
        False for submissions and cancellations; a drop then raises ConnectionLostError.
        """
        args = validate_argv(argv)
        command = shlex.join(args)
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        timeout = self.command_timeout_s if timeout_s is None else check_timeout(timeout_s, "timeout_s")
        if self._closed:
            raise TransportError("run() on a closed SSHTransport", host=self.host)
        tries = 1 + self._conn.options.reconnect_attempts
        refusals = 0
        attempt = 0
        while True:
            transport, generation = self._conn.ensure()
            try:
                code, out, err = self._exec(transport, command, data, timeout)
            except _ChannelRefused as refused:
                refusals += 1
                if refusals > CHANNEL_RETRIES:
                    raise refused.error from refused.error.__cause__
                time.sleep(CHANNEL_RETRY_PAUSE_S)
                continue
            except _LinkLost as lost:
                attempt += 1
                self._conn.invalidate(generation)
                if (lost.sent and not retry_safe) or attempt >= tries:
                    raise self._lost_error(command, lost, retry_safe) from lost.cause
                continue
            return Completed(args, code, decode_output(out), decode_output(err), host=self.host)

    def _lost_error(self, command: str, lost: _LinkLost, retry_safe: bool) -> ConnectionLostError:
        if lost.sent and not retry_safe:
            why = ("it may or may not have run on the host, so it was not retried (only commands "
                   "run with retry_safe=True are); check its effect before running it again")
        else:
            why = "the connection kept failing"
        return ConnectionLostError(f"connection lost while running {command!r}: {why}; cause: "
                                   f"{lost.cause!r}", host=self.host, cause=lost.cause)

    def _exec(self, transport: paramiko.Transport, command: str, stdin: bytes | None,
              timeout: float | None) -> tuple[int, bytes, bytes]:
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._conn.sessions.acquire(timeout=timeout if timeout is not None else -1):
            raise CommandTimeoutError(f"command {command!r} waited {timeout:g} s for a free SSH "
                                      "session on the shared connection", host=self.host)
        try:
            try:
                channel = transport.open_session(timeout=self._conn.options.connect_timeout_s)
            except LINK_ERRORS as exc:
                if transport.is_active() and not isinstance(exc, DEAD_LINK_ERRORS):
                    # a refusal or a slow server, not a dead link: reconnecting would only
                    # kill the other commands in flight on this connection. (EOF or a socket
                    # error means the link died before paramiko's reader thread noticed, e.g. a
                    # pooled connection to a server that restarted: reconnect.)
                    raise TransportError(f"could not open a session channel: {exc!r}",
                                         host=self.host, cause=exc) from exc
                raise _LinkLost(exc, sent=False) from exc
            try:
                try:
                    channel.exec_command(command)
                except LINK_ERRORS as exc:
                    if transport.is_active() and not isinstance(exc, DEAD_LINK_ERRORS):
                        # the link is fine; the server refused or closed this one channel
                        # before accepting the command (so it did not run): try a new channel
                        raise _ChannelRefused(TransportError(
                            f"the server did not accept command {command!r}: {exc}",
                            host=self.host, cause=exc)) from exc
                    raise _LinkLost(exc, sent=True) from exc
                try:
                    feeder = self._feed_stdin(channel, stdin)
                except LINK_ERRORS as exc:
                    raise _LinkLost(exc, sent=True) from exc
                code, out, err = self._collect(transport, channel, command, deadline, timeout)
                if feeder is not None:
                    feeder.join(LIVENESS_CHECK_S)
                return code, out, err
            finally:
                try:
                    channel.close()  # on timeout this is what stops the remote command
                except LINK_ERRORS:
                    pass  # the link is already gone; the error being raised says so
        finally:
            self._conn.sessions.release()

    @staticmethod
    def _feed_stdin(channel: paramiko.Channel, data: bytes | None) -> threading.Thread | None:
        if not data:
            channel.shutdown_write()  # the command reads EOF at once
            return None

        # a thread, so a command that writes before reading all its input cannot deadlock us
        def feed() -> None:
            try:
                channel.sendall(data)
                channel.shutdown_write()
            except LINK_ERRORS:
                pass  # the collector sees the closed channel or dead link and reports it

        thread = threading.Thread(target=feed, name="clustrix-ssh-stdin", daemon=True)
        thread.start()
        return thread

    def _collect(self, transport: paramiko.Transport, channel: paramiko.Channel, command: str,
                 deadline: float | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        """Drain stdout and stderr together until EOF + exit status, the deadline, or link loss."""
        out, err = bytearray(), bytearray()

        def drain() -> None:
            while channel.recv_ready():
                out.extend(channel.recv(CHUNK_BYTES))
            while channel.recv_stderr_ready():
                err.extend(channel.recv_stderr(CHUNK_BYTES))

        while True:
            drain()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise CommandTimeoutError(
                    f"command {command!r} did not finish within {timeout:g} s and was stopped (its "
                    "channel was closed, so sshd kills it); raise command_timeout_s if it is "
                    "legitimately slow",
                    host=self.host)
            wait = LIVENESS_CHECK_S if remaining is None else min(remaining, LIVENESS_CHECK_S)
            if channel.eof_received or channel.closed:
                # all output is in (the buffers are closed); only the exit status may be pending
                if channel.status_event.wait(wait):
                    drain()
                    if channel.exit_status == -1 and not transport.is_active():
                        raise _LinkLost(EOFError("connection closed before the exit status"),
                                        sent=True)
                    code = channel.exit_status
                    return (NO_EXIT_STATUS if code == -1 else code), bytes(out), bytes(err)
            else:
                # the channel's fileno becomes readable on stdout data, stderr data, EOF or close
                select.select([channel], [], [], wait)
            if not transport.is_active():
                drain()
                if not (channel.eof_received and channel.status_event.is_set()):
                    raise _LinkLost(EOFError("the SSH connection dropped"), sent=True)

    # -- files
    def _sftp_call(self, action: str, operation: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run ``operation(sftp)`` with the shared SFTP channel, reconnecting if the link drops.

        File operations here are idempotent (temp + rename, reads, mkdir -p), so they are
        always retried after a reconnect.
        """
        tries = 1 + self._conn.options.reconnect_attempts
        for attempt in range(tries):
            sftp, generation, lock = self._conn.sftp()
            try:
                with lock:
                    return operation(sftp)
            except TransportError:
                raise
            except LINK_ERRORS as exc:
                channel = sftp.get_channel()
                link_alive = channel is not None and channel.get_transport().is_active()
                if link_alive and not channel.closed and isinstance(exc, OSError):
                    raise TransportError(f"cannot {action}: {exc}", host=self.host, cause=exc) from exc
                if link_alive:
                    self._conn.reset_sftp(sftp)  # only the SFTP channel died; keep the commands
                else:
                    self._conn.invalidate(generation)
                if attempt == tries - 1:
                    raise ConnectionLostError(f"connection lost during {action}: {exc!r}",
                                              host=self.host, cause=exc) from exc
        raise AssertionError("unreachable")

    def put_files(self, files: Mapping[str, bytes], *, mode: int = FILE_MODE, dirs: Sequence[str] = (),
                  dir_mode: int = DIR_MODE) -> None:
        """Create ``dirs`` and write files atomically with ``mode``, pipelined (two round trips).

        See :mod:`clustrix.transports.sftp_batch`. A missing parent of a directory is created
        step by step (``makedirs``), then the batch is sent again.
        """
        items = {self.expand_path(path): data for path, data in files.items()}
        made = [posixpath.normpath(self.expand_path(d)) for d in dirs]

        def put(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp_batch.write_files(sftp, items, mode, dirs=made, dir_mode=dir_mode, host=self.host)
            except FileNotFoundError:
                if not made:
                    raise
                for d in made:  # a parent is missing (the first job under a new remote_dir)
                    sftp_ops.makedirs(sftp, d, dir_mode, self.host)
                sftp_batch.write_files(sftp, items, mode, host=self.host)

        if items or made:
            self._sftp_call(f"write {_some(list(items) or made)}", put)

    def get_files(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        """Read whole files, pipelined (two round trips for small files); missing ones map to None."""
        wanted = list(paths)
        # expand first: home() may need the SFTP lock that get() below holds
        expanded = {path: self.expand_path(path) for path in wanted}

        def get(sftp: paramiko.SFTPClient) -> dict[str, bytes | None]:
            blobs = sftp_batch.read_files(sftp, expanded.values())
            return {path: blobs[real] for path, real in expanded.items()}

        return self._sftp_call(f"read {_some(wanted)}", get) if wanted else {}

    def stat_files(self, paths: Iterable[str]) -> dict[str, FileStat | None]:
        """``lstat`` over the shared SFTP channel, pipelined; missing paths map to None."""
        wanted = list(paths)
        expanded = {path: self.expand_path(path) for path in wanted}

        def stats(sftp: paramiko.SFTPClient) -> dict[str, FileStat | None]:
            found = sftp_batch.lstat_paths(sftp, expanded.values())
            return {path: found[real] for path, real in expanded.items()}

        return self._sftp_call(f"stat {_some(wanted)}", stats) if wanted else {}

    def uid(self) -> int:
        """``id -u`` on the host, run once per transport (an SFTP server cannot say who we are)."""
        if self._uid is None:
            done = self.run(["id", "-u"], retry_safe=True)
            text = done.stdout.strip()
            if done.returncode != 0 or not text.isdigit():
                raise TransportError(f"cannot learn the remote user id: 'id -u' exited {done.returncode} "
                                     f"printing {text!r} {done.stderr.strip()!r}", host=self.host)
            self._uid = int(text)
        return self._uid

    def listdir(self, path: str) -> list[str] | None:
        """The names in directory ``path`` over the shared SFTP channel; None when it is missing."""
        real = self.expand_path(path)

        def names(sftp: paramiko.SFTPClient) -> list[str] | None:
            try:
                return sftp.listdir(real)
            except FileNotFoundError:
                return None

        return self._sftp_call(f"list {path}", names)

    def makedirs(self, path: str, mode: int = DIR_MODE) -> None:
        """``mkdir -p`` over SFTP: usually two round trips (mkdir + chmod) when the parent exists."""
        target = posixpath.normpath(self.expand_path(path))
        self._sftp_call(f"create directory {target}", lambda sftp: sftp_ops.makedirs(sftp, target, mode, self.host))

    def home(self) -> str:
        """The login directory on the host (SFTP's view of ``.``), cached per connection."""
        if self._conn.home_dir is None:
            self._conn.home_dir = self._sftp_call("resolve the home directory",
                                                  lambda sftp: sftp.normalize("."))
        return self._conn.home_dir

    def expand_path(self, path: str) -> str:
        return expand_home(path, self.home()) if path.startswith("~") else path
