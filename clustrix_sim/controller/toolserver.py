"""A fork server for the tool scripts: ``sbatch``/``squeue`` start in a few milliseconds.

A tool run by a fresh interpreter spends most of its time importing the front end. The tool
server is a single-threaded process (started by the controller) that imports the flavour's tools
once, then for each tool-script connection forks a child that adopts the script's stdin/stdout/stderr
(passed over the Unix socket with SCM_RIGHTS), working directory, environment, umask and argv,
runs the tool and reports its exit code. The script forwards SIGINT/SIGTERM/SIGHUP to the child.

``srun`` never goes through it: the commands srun starts must stay in the job's own session so
the controller can measure and kill them. When the server is missing or refuses, the script runs
the tool in-process (same result, slower). The client half (:func:`client_run`) imports only
builtin-cheap modules: it runs on every tool invocation.

Wire: the script sends ``len(4 bytes) + marshal((flavor, tool, argv, cwd, env, umask))`` with its
fds 0-2 attached; the server answers with the child's pid (4 bytes), then its exit code (4 bytes).
Only the same user can reach the socket (0600 in the 0700 state dir).
"""

from __future__ import annotations

import _signal
import _socket
import array
import marshal
import os
import struct

SOCKET_NAME = "tools.sock"
IN_PROCESS_ONLY = frozenset({"srun"})
_HEADER = struct.Struct("!I")
_MAX_REQUEST = 64 * 1024 * 1024


def client_run(sock_path: str, flavor: str, tool: str, argv: list[str]) -> int | None:
    """Run a tool through the server; None when the server cannot be used (caller falls back).

    Uses ``_socket``/``_signal`` directly: the ``socket`` and ``signal`` modules pull in ``enum``,
    which would double the start-up cost of every tool call.
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
    body = marshal.dumps((flavor, tool, list(argv), os.getcwd(), dict(os.environ), umask))
    try:
        conn.sendmsg([_HEADER.pack(len(body)) + body],
                     [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
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
def serve(sock_path: str, flavor: str) -> None:
    """Preload the tools and fork one child per request until SIGTERM."""
    import gc
    import importlib
    import select
    import signal
    import socket
    import sys

    from clustrix_sim import frontends

    tools = frontends.tool_table(flavor)  # the point: import once
    importlib.import_module("clustrix_sim.controller.tool_scripts")
    for name in getattr(tools, "TOOLS", {}):  # tool tables may import each tool lazily
        try:
            importlib.import_module(frontends.module_name(flavor, name))
        except ImportError:
            pass
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    os.chmod(sock_path, 0o600)
    server.listen(128)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    gc.collect()
    gc.freeze()  # children share the preloaded heap; GC passes would copy every page of it
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    parent = os.getppid()
    try:
        while not stop and os.getppid() == parent:  # exit with the controller, even after SIGKILL
            try:
                readable, _, _ = select.select([server], [], [], 0.5)
            except InterruptedError:
                continue
            _reap()
            if readable:
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                _handle(conn)
    finally:
        server.close()
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _handle(conn) -> None:
    import socket

    fds: list[int] = []
    try:
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
        request = marshal.loads(body)
        conn.settimeout(None)
    except (OSError, ValueError, EOFError, TypeError):
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    pid = os.fork()
    if pid == 0:  # the child never returns
        _child(conn, fds, request)
    for fd in fds:
        os.close(fd)
    conn.close()


def _child(conn, fds: list[int], request: tuple) -> None:
    import gc
    import signal
    import sys

    gc.disable()  # a short-lived tool: keep the shared heap shared
    rc = 1
    tool = "tool"
    try:
        flavor, tool, argv, cwd, env, umask = request
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
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
            rc = run_tool(flavor, tool, argv)
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
    args = parser.parse_args(argv)
    serve(args.socket, args.flavor)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
