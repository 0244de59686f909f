"""A fork server for the tool scripts: ``sbatch``/``squeue`` start in a few milliseconds.

A tool run by a fresh interpreter spends most of its time importing the front end. The tool
server is a single-threaded process (started by the controller) that imports the flavour's whole
front end once and keeps a few children forked ahead of requests (:func:`serve`): an idle child
takes one tool-script connection, adopts the script's stdin/stdout/stderr (passed over the Unix
socket with SCM_RIGHTS), working directory, environment, umask and argv, runs the tool, reports
its exit code and exits; the server forks its replacement once it has exited (so the fork does not
compete with the request for a CPU), or at once when no idle child is left. Forking ahead keeps
the fork and Python's after-fork work (a few milliseconds) off every call. The script forwards
SIGINT/SIGTERM/SIGHUP to the child.

``srun`` never goes through it: the commands srun starts must stay in the job's own session so
the controller can measure and kill them. When the server is missing or refuses, the script runs
the tool in-process (same result, slower). The client half (:func:`client_run`) imports only
builtin-cheap modules: it runs on every tool invocation.

Wire (:func:`encode_request`, also spoken by the compiled client ``toolclient.c``): the script
sends a 4-byte big-endian length, then NUL-separated fields (POSIX strings hold no NUL): ``MAGIC``,
flavor, tool, cwd, umask, argc, the arguments, the number of environment entries, the ``K=V``
entries; with its fds 0-2 attached. The server answers with the child's pid (4 bytes), then its
exit code (4 bytes).
Only the same user can reach the socket (0600 in the 0700 state dir).
"""

from __future__ import annotations

import _signal
import _socket
import os
import struct

SOCKET_NAME = "tools.sock"
IN_PROCESS_ONLY = frozenset({"srun"})
IDLE_CHILDREN = 2  # forked ahead of requests: two tools at once start without waiting for a fork
PRELOADED_STDLIB = ("json", "getpass", "pwd", "grp", "socket", "datetime", "calendar", "argparse", "shlex",
                    "textwrap", "re", "time", "signal", "select")
_FDS = struct.pack("3i", 0, 1, 2)  # the script's stdin, stdout, stderr (SCM_RIGHTS payload)
MAGIC = b"clustrix-sim-tool/1"
_HEADER = struct.Struct("!I")
_MAX_REQUEST = 64 * 1024 * 1024


def client_run(sock_path: str, flavor: str, tool: str, argv: list[str]) -> int | None:
    """Run a tool through the server; None when the server cannot be used (caller falls back).

    Uses ``_socket``/``_signal`` directly: the ``socket`` and ``signal`` modules pull in ``enum``,
    which would double the start-up cost of every tool call (and ``array`` pulls in
    ``collections``: the descriptors are packed with ``struct``).
    """
    if tool in IN_PROCESS_ONLY:
        return None
    try:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        conn.connect(sock_path)
    except OSError:
        return None
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        data = encode_request(flavor, tool, argv, os.getcwd(), umask, os.environb)
        sent = conn.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _FDS)])
        if sent < len(data):
            conn.sendall(data[sent:])
        pid = _recv_int(conn)
    except OSError:
        conn.close()
        return None
    if pid is None:
        conn.close()
        return None

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(sig, forward)
    try:
        rc = _recv_int(conn)
    except OSError:
        rc = None
    conn.close()
    return 1 if rc is None else rc


def encode_request(flavor: str, tool: str, argv: list[str], cwd: str, umask: int, environb) -> bytes:
    """The request on the wire: header and NUL-separated fields (see the module docstring)."""
    fields = [MAGIC, flavor.encode(), tool.encode(), os.fsencode(cwd), b"%d" % umask, b"%d" % len(argv),
              *map(os.fsencode, argv), b"%d" % len(environb), *(k + b"=" + v for k, v in environb.items())]
    body = b"\0".join(fields)
    return _HEADER.pack(len(body)) + body


def decode_request(body: bytes) -> tuple[str, str, list[str], str, dict[str, str], int]:
    """``(flavor, tool, argv, cwd, env, umask)`` from a request body; ValueError when malformed."""
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
            env[os.fsdecode(key)] = os.fsdecode(value)
    return (parts[1].decode(), parts[2].decode(), [os.fsdecode(a) for a in parts[6:6 + argc]],
            os.fsdecode(parts[3]), env, int(parts[4]))


def _recv_int(conn) -> int | None:
    data = b""
    while len(data) < 4:
        try:
            chunk = conn.recv(4 - len(data))
        except InterruptedError:
            continue
        if not chunk:
            return None
        data += chunk
    return _HEADER.unpack(data)[0]


# -- server -------------------------------------------------------------------------------------
def serve(sock_path: str, flavor: str, idle_children: int = IDLE_CHILDREN) -> None:
    """Preload the tools, keep ``idle_children`` forked children waiting, until SIGTERM.

    Each idle child already paid for the fork (and Python's after-fork work) before any request
    arrives: it waits on the listening socket itself, takes one connection, tells the server
    (its pid on the ``taken`` pipe; the server watches it through a pidfd and forks its
    replacement when it exits) and serves it. Children
    hold the read end of a lifeline pipe whose only writer is the server: when the server exits,
    even by SIGKILL, every idle child sees EOF and exits too.
    """
    import gc
    import select
    import signal
    import socket
    import sys

    table = preload(flavor)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    os.chmod(sock_path, 0o600)
    server.listen(128)
    server.setblocking(False)  # idle children race for each connection; losers go back to waiting
    lifeline_r, lifeline_w = os.pipe()
    taken_r, taken_w = os.pipe()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    gc.collect()
    gc.freeze()  # children share the preloaded heap; GC passes would copy every page of it
    idle: set[int] = set()
    busy: dict[int, int] = {}  # pidfd -> pid of a child serving a request
    pipes = (server, lifeline_r, lifeline_w, taken_r, taken_w)

    def top_up(count: int) -> None:
        while len(idle) < count and not stop:
            pid = os.fork()
            if pid == 0:  # never returns
                _idle_child(server, lifeline_r, lifeline_w, taken_r, taken_w, flavor, table)
            idle.add(pid)

    top_up(idle_children)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    parent = os.getppid()
    try:
        while not stop and os.getppid() == parent:  # exit with the controller, even after SIGKILL
            try:
                readable, _, _ = select.select([taken_r, *busy], [], [], 0.5)
            except InterruptedError:
                continue
            if taken_r in readable:
                data = os.read(taken_r, 4096)
                for i in range(0, len(data) - len(data) % 4, 4):
                    pid = _HEADER.unpack(data[i:i + 4])[0]
                    idle.discard(pid)
                    try:
                        busy[os.pidfd_open(pid)] = pid
                    except OSError:  # already gone
                        pass
            for fd in [fd for fd in readable if fd in busy]:
                del busy[fd]
                os.close(fd)
            for pid in _reap():
                idle.discard(pid)
            # Replace a busy child once it has exited, so the fork does not compete with the
            # request for the CPU; but never leave no child waiting (a second tool at once).
            top_up(max(1, idle_children - len(busy)))
    finally:
        for fd in (*pipes, *busy):
            _close(fd)
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass


def preload(flavor: str):
    """Import the flavour's tool table and every module of its front end (the tools import
    their helpers lazily; a child that imported them would pay for it on every call)."""
    import importlib
    import pkgutil

    from clustrix_sim import frontends

    table = frontends.tool_table(flavor)
    importlib.import_module("clustrix_sim.controller.tool_scripts")
    family = ".".join(table.__name__.split(".")[:2])  # clustrix_sim.pbs for torque too
    package = importlib.import_module(family)
    for info in pkgutil.walk_packages(package.__path__, family + "."):
        try:
            importlib.import_module(info.name)
        except ImportError:
            pass
    for name in PRELOADED_STDLIB:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return table


def _reap() -> list[int]:
    gone = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return gone
        if pid == 0:
            return gone
        gone.append(pid)


def _close(fd) -> None:
    try:
        fd.close() if hasattr(fd, "close") else os.close(fd)
    except OSError:
        pass


def _idle_child(server, lifeline_r: int, lifeline_w: int, taken_r: int, taken_w: int, flavor: str,
                table) -> None:
    """A forked child: wait for one connection (or the server's end), serve it, exit."""
    import gc
    import select
    import signal

    gc.disable()  # a short-lived tool: keep the shared heap shared
    rc = 0
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.close(lifeline_w)
        os.close(taken_r)
        while True:
            try:
                readable, _, _ = select.select([server, lifeline_r], [], [])
            except InterruptedError:
                continue
            if lifeline_r in readable:  # the server is gone or stopping
                break
            try:
                conn, _ = server.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another idle child took it
            os.write(taken_w, _HEADER.pack(os.getpid()))
            for fd in (server, lifeline_r, taken_w):
                _close(fd)
            received = _receive(conn)
            if received is not None:
                fds, request = received
                _child(conn, fds, request, table if request[0] == flavor else None)  # never returns
            break
    except BaseException:  # noqa: BLE001 - an idle child never returns into the server loop
        rc = 1
    os._exit(rc)


def _receive(conn) -> tuple[list[int], tuple] | None:
    """The script's request and its three descriptors, or None (connection closed)."""
    import socket

    fds: list[int] = []
    try:
        conn.setblocking(True)
        conn.settimeout(5.0)
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        if len(fds) != 3 or len(data) < 4:
            raise ValueError("a tool-script request carries a header and three descriptors")
        size = _HEADER.unpack(data[:4])[0]
        if size > _MAX_REQUEST:
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


def _child(conn, fds: list[int], request: tuple, table) -> None:
    import sys

    rc = 1
    tool = "tool"
    try:
        flavor, tool, argv, cwd, env, umask = request
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding=encoding, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding=encoding, errors="backslashreplace", closefd=False)  # noqa: SIM115
        os.umask(umask)
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.argv = [tool, *argv]
        conn.sendall(_HEADER.pack(os.getpid()))
        from clustrix_sim.controller.tool_scripts import run_tool

        try:
            rc = run_tool(flavor, tool, argv, table=table)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
    except KeyboardInterrupt:
        rc = 130
    except BaseException as exc:  # report, never return into the server loop
        try:
            os.write(2, f"{tool}: internal error: {exc!r}\n".encode())
        except OSError:
            pass
    finally:
        try:
            conn.sendall(_HEADER.pack(rc & 0xFFFFFFFF))
        except OSError:
            pass
        os._exit(rc & 0xFF)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m clustrix_sim.controller.toolserver")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--flavor", required=True)
    parser.add_argument("--idle-children", type=int, default=IDLE_CHILDREN)
    args = parser.parse_args(argv)
    if args.idle_children < 1:
        parser.error(f"--idle-children must be at least 1, got {args.idle_children}")
    serve(args.socket, args.flavor, args.idle_children)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
