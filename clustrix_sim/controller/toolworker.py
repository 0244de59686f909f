"""A tool server's worker: a process, forked from the preloaded server, that runs tool calls.

A worker serves one call at a time, many calls in its life (:func:`work`). Forking a child per
call cost each call about 5 ms of CPU: the fork, the copy-on-write faults of a Python heap whose
reference counts change wherever the tool looks, and the teardown. A worker pays that once.

Per call it takes one connection from the listening socket and tells the server it is busy; it
adopts the script's stdin/stdout/stderr (received with SCM_RIGHTS), working directory, umask,
environment and argv; it answers with its pid; it runs the tool; it flushes and hands the three
descriptors back (its own again on 0-2) before it reports the exit code, so a caller reading the
tool's output to EOF waits for nothing else; then it tells the server it is idle. Nothing of a
call outlives it: the environment is made exactly the caller's, the directory is left for ``/``,
fresh stream objects are made per call and dropped after.

Signals reach the tool over the connection, not by ``kill``: the client writes the signal's
number, and the worker (``O_ASYNC``: SIGIO on arrival) raises KeyboardInterrupt for SIGINT, or
exits at once for SIGTERM/SIGHUP, as a killed tool would. A number sent after the call ended
finds the connection closed, so a late signal can never hit the worker's next call. A worker that
was interrupted, failed inside itself, or served ``calls`` calls exits instead of going back to
idle, and the server forks a replacement.

A worker watches its retire pipe while idle: the server closes the write end to retire it (too
many idle after a burst), and when the server dies, even by SIGKILL, the pipe reads EOF too.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import struct
import sys

BUSY, IDLE = 1, 0  # the states a worker reports to the server (``STATE`` messages on its pipe)
STATE = struct.Struct("!Ii")  # pid, state: 8 bytes, under PIPE_BUF, so writes never interleave
_HEADER = struct.Struct("!I")
RECEIVE_TIMEOUT_S = 5.0
MAGIC = b"clustrix-sim-tool/2"  # toolserver.MAGIC (this module imports nothing of the server's)
MAX_REQUEST = 64 * 1024 * 1024


def work(listener: socket.socket, retire_r: int, state_w: int, inherited: list[int], flavor: str, table,
         calls: int) -> None:
    """The worker's life (never returns): serve up to ``calls`` calls, then exit."""
    rc = 0
    try:
        for fd in inherited:  # the server's other pipe ends: the retire pipes must see EOF
            close_quietly(fd)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGIO, signal.SIG_IGN)
        home = [os.dup(fd) for fd in (0, 1, 2)]  # the server's own 0-2, restored after every call
        poller = select.epoll()
        poller.register(listener.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)  # wake one worker
        poller.register(retire_r, select.EPOLLIN)
        served = 0
        while served < calls:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            if any(fd == retire_r for fd, _ in events):
                break  # retired, or the server is gone
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            os.write(state_w, STATE.pack(os.getpid(), BUSY))
            served += 1
            if not _serve(conn, flavor, table, home):
                break
            if served < calls:
                os.write(state_w, STATE.pack(os.getpid(), IDLE))
    except BaseException as exc:  # noqa: BLE001 - a worker never returns into the server loop
        rc = 1
        try:  # into the tool server's log (the worker's own stderr between calls)
            os.write(2, f"tool server worker {os.getpid()}: {exc!r}\n".encode())
        except OSError:
            pass
    os._exit(rc)


def _serve(conn: socket.socket, flavor: str, table, home: list[int]) -> bool:
    """Serve one connection; False when this worker must not serve another."""
    received = _receive(conn)
    if received is None:
        return True
    fds, (req_flavor, tool, argv, cwd, env, umask) = received
    rc, reusable = 1, True
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_argv = sys.argv
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        _open_streams(saved_streams[1])
        os.umask(umask)
        adopt_environment(env)
        os.chdir(cwd)
        sys.argv = [tool, *argv]
        _arm_signals(conn)
        conn.sendall(_HEADER.pack(os.getpid()))
        from clustrix_sim.controller.tool_scripts import run_tool

        try:
            rc = run_tool(req_flavor, tool, argv, table=table if req_flavor == flavor else None)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        rc, reusable = 130, False
    except BaseException as exc:  # report, never return into the worker loop
        reusable = False
        try:
            os.write(2, f"{tool}: internal error: {exc!r}\n".encode())
        except OSError:
            pass
    finally:
        signal.signal(signal.SIGIO, signal.SIG_IGN)
        reusable = reusable and not _interrupted
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        for target, fd in enumerate(home):  # the caller's descriptors go back before the exit code
            os.dup2(fd, target)
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        try:
            conn.sendall(_HEADER.pack(rc & 0xFFFFFFFF))
        except OSError:
            pass
        conn.close()
        try:
            os.chdir("/")  # hold no caller's directory while idle
        except OSError:
            pass
    return reusable


_interrupted = False


def _arm_signals(conn: socket.socket) -> None:
    """Deliver the signal numbers the client writes on ``conn`` (SIGIO on their arrival)."""
    global _interrupted
    _interrupted = False

    def on_sigio(_signum, _frame) -> None:
        global _interrupted
        try:
            data = conn.recv(64, socket.MSG_DONTWAIT)
        except OSError:  # nothing to read (another event), or the connection is gone
            return
        for number in data:  # EOF (the client died) reads b"": the tool finishes, as before
            if number == signal.SIGINT:
                _interrupted = True
                raise KeyboardInterrupt
            if number in (signal.SIGTERM, signal.SIGHUP):
                os._exit(128 + number)  # a killed tool: no exit code reaches the client

    signal.signal(signal.SIGIO, on_sigio)
    fcntl.fcntl(conn.fileno(), fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(conn.fileno(), fcntl.F_SETFL, fcntl.fcntl(conn.fileno(), fcntl.F_GETFL) | os.O_ASYNC)


def _open_streams(template) -> None:
    """Fresh ``sys.stdin/stdout/stderr`` over descriptors 0-2 (now the script's own).

    Made per call: a stream left with unflushable data (a closed pipe) must not carry it into
    the next call. A terminal gets line buffering, as a fresh interpreter would give it.
    """
    encoding = getattr(template, "encoding", None) or "utf-8"
    sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, encoding=encoding,  # noqa: SIM115
                      closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding=encoding, errors="backslashreplace",  # noqa: SIM115
                      closefd=False)


def adopt_environment(env: dict[bytes, bytes]) -> None:
    """Make the process environment exactly ``env``, touching only the entries that differ
    (``os.environ.clear()`` + ``update()`` costs most of a millisecond per call)."""
    current = os.environb
    for key in [key for key in current if key not in env]:
        del current[key]
    for key, value in env.items():
        if current.get(key) != value:
            current[key] = value


def decode_request(body: bytes) -> tuple[str, str, list[str], str, dict[bytes, bytes], int]:
    """``(flavor, tool, argv, cwd, env, umask)`` from a request body; ValueError when malformed.

    ``env`` stays in bytes (``os.environb``'s form): the child adopts it without decoding."""
    parts = body.split(b"\0")
    if len(parts) < 7 or parts[0] != MAGIC:
        raise ValueError("not a clustrix-sim tool request")
    argc = int(parts[5])
    envc = int(parts[6 + argc]) if 6 + argc < len(parts) else -1
    if argc < 0 or envc < 0 or len(parts) != 7 + argc + envc:
        raise ValueError("a tool request's counts do not match its fields")
    env = {}
    for entry in parts[7 + argc:]:
        key, sep, value = entry.partition(b"=")
        if sep and key:
            env[key] = value
    return (parts[1].decode(), parts[2].decode(), [os.fsdecode(a) for a in parts[6:6 + argc]],
            os.fsdecode(parts[3]), env, int(parts[4]))


def _receive(conn: socket.socket) -> tuple[list[int], tuple] | None:
    """The script's request and its three descriptors, or None (closed or malformed)."""
    fds: list[int] = []
    try:
        conn.settimeout(RECEIVE_TIMEOUT_S)
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        if len(fds) != 3 or len(data) < 4:
            raise ValueError("a tool-script request carries a header and three descriptors")
        size = _HEADER.unpack(data[:4])[0]
        if size > MAX_REQUEST:
            raise ValueError("request too large")
        body = data[4:]
        while len(body) < size:
            chunk = conn.recv(size - len(body))
            if not chunk:
                raise ValueError("truncated request")
            body += chunk
        request = decode_request(body)
        conn.settimeout(None)
        return fds, request
    except (OSError, ValueError, UnicodeDecodeError):
        for fd in fds:
            os.close(fd)
        conn.close()
        return None


def close_quietly(fd) -> None:
    """Close a descriptor or socket, ignoring an error (it may be closed already)."""
    try:
        fd.close() if hasattr(fd, "close") else os.close(fd)
    except OSError:
        pass
