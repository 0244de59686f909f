"""Running one SSH ``exec``/``shell`` request as a process, and forwarding ``direct-tcpip`` channels.

One :class:`ExecSession` per channel: a supervisor thread starts the process in its own process
group and three pump threads move bytes (channel -> stdin, stdout -> channel, stderr -> channel
extended data). Pumping stdout and stderr independently is what keeps a command that writes
megabytes to both from deadlocking; ``Channel.sendall`` blocks on the SSH window, which gives the
client flow control. The supervisor kills the process group when the channel or the connection
goes away, so no command outlives a dropped client.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping

import paramiko

log = logging.getLogger("clustrix_sim.ssh")

CHUNK_BYTES = 64 * 1024
WATCH_INTERVAL_S = 0.2  # how often a running command checks that its client is still there
KILL_GRACE_S = 2.0  # SIGTERM -> SIGKILL


def _close_quietly(channel: paramiko.Channel) -> None:
    """Close a channel whose connection may already be gone (close() then raises)."""
    try:
        channel.close()
    except (OSError, EOFError, paramiko.SSHException):
        pass


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class ExecSession:
    """Runs ``argv`` for one session channel and reports its exit status back."""

    def __init__(self, channel: paramiko.Channel, transport: paramiko.Transport, argv: list[str],
                 *, cwd: str, env: Mapping[str, str], delay_s: float = 0.0):
        self.channel = channel
        self.transport = transport
        self.argv = argv
        self.cwd = cwd
        self.env = dict(env)
        self.delay_s = delay_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._client_gone = threading.Event()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._supervise, daemon=True,
                                  name=f"sim-sshd-exec-{self.channel.get_id()}")
        thread.start()
        return thread

    def _gone(self) -> bool:
        if self.channel.closed or not self.transport.is_active():
            self._client_gone.set()
        return self._client_gone.is_set()

    def _supervise(self) -> None:
        if self.delay_s and self._client_gone.wait(self.delay_s):
            return
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, bufsize=0,
            )
        except OSError as exc:
            self._finish_without_process(exc)
            return
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        pumps = [
            threading.Thread(target=self._pump_out, args=(proc.stdout, self.channel.sendall),
                             daemon=True),
            threading.Thread(target=self._pump_out, args=(proc.stderr, self.channel.sendall_stderr),
                             daemon=True),
        ]
        stdin_pump = threading.Thread(target=self._pump_in, args=(proc.stdin,), daemon=True)
        for thread in (*pumps, stdin_pump):
            thread.start()
        # A blocking wait in its own thread wakes us the moment the process exits:
        # Popen.wait(timeout) polls in growing sleeps of up to 50 ms, which added ~30 ms to
        # every short command.
        exited = threading.Event()

        def reap() -> None:
            proc.wait()
            exited.set()

        threading.Thread(target=reap, daemon=True, name=f"{threading.current_thread().name}-reap").start()
        killed_at: float | None = None
        # wait for the process and for EOF on both pipes (a background child holding the pipes
        # keeps the session open, as with OpenSSH); kill the group if the client goes away
        while not exited.is_set() or any(t.is_alive() for t in pumps):
            if self._gone():
                now = time.monotonic()
                if killed_at is None:
                    log.info("client gone; killing %r (pid %s)", self.argv[-1][:80], proc.pid)
                    _kill_group(proc, signal.SIGTERM)
                    killed_at = now
                elif now - killed_at > KILL_GRACE_S:
                    _kill_group(proc, signal.SIGKILL)
            if not exited.wait(WATCH_INTERVAL_S):
                continue
            for thread in pumps:
                thread.join(WATCH_INTERVAL_S)
        code = proc.returncode
        status = code if code >= 0 else 128 - code  # killed by signal N -> 128+N, like a shell
        if not self._gone():
            try:
                self.channel.send_exit_status(status)
                self.channel.shutdown_write()
            except (OSError, EOFError, paramiko.SSHException):
                pass
        _close_quietly(self.channel)
        stdin_pump.join(WATCH_INTERVAL_S)

    def _finish_without_process(self, exc: OSError) -> None:
        """The shell itself could not start (no /bin/sh, bad cwd): report it like sshd would."""
        log.warning("cannot start %r in %s: %s", self.argv, self.cwd, exc)
        try:
            self.channel.sendall_stderr(f"clustrix-sim sshd: cannot run command: {exc}\n".encode())
            self.channel.send_exit_status(127)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        _close_quietly(self.channel)

    def _pump_out(self, pipe: object, send: object) -> None:
        fd = pipe.fileno()  # type: ignore[attr-defined]
        broken = False
        try:
            while True:
                data = os.read(fd, CHUNK_BYTES)
                if not data:
                    return
                if broken:
                    continue  # keep draining so the process is not stuck on a full pipe
                try:
                    send(data)  # type: ignore[operator]
                except (OSError, EOFError, paramiko.SSHException):
                    broken = True
                    self._client_gone.set()
        finally:
            pipe.close()  # type: ignore[attr-defined]

    def _pump_in(self, stdin: object) -> None:
        writable = True
        try:
            while True:
                data = self.channel.recv(CHUNK_BYTES)
                if not data:  # client EOF, or channel closed
                    return
                if writable:
                    try:
                        stdin.write(data)  # type: ignore[attr-defined]
                    except (BrokenPipeError, ValueError):
                        writable = False  # the command stopped reading; discard the rest
        except (OSError, EOFError, paramiko.SSHException):
            return
        finally:
            try:
                stdin.close()  # type: ignore[attr-defined]
            except OSError:
                pass


def forward_channel(channel: paramiko.Channel, target: tuple[str, int],
                    connect_timeout_s: float = 10.0) -> None:
    """Relay bytes between a ``direct-tcpip`` channel and a TCP connection to ``target``."""
    try:
        sock = socket.create_connection(target, timeout=connect_timeout_s)
    except OSError as exc:
        log.info("direct-tcpip to %s:%s failed: %s", target[0], target[1], exc)
        _close_quietly(channel)
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)
    try:
        while True:
            readable, _, _ = select.select([sock, channel], [], [], 30.0)
            if not readable:
                if channel.closed or not channel.get_transport().is_active():
                    return
                continue
            if sock in readable:
                data = sock.recv(CHUNK_BYTES)
                if not data:
                    return
                channel.sendall(data)
            if channel in readable:
                data = channel.recv(CHUNK_BYTES)
                if not data:
                    return
                sock.sendall(data)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        log.debug("forward to %s:%s ended: %s", target[0], target[1], exc)
    finally:
        sock.close()
        _close_quietly(channel)
