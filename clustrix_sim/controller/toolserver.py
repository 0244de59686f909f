"""The tool scripts' server: ``sbatch``/``squeue`` start in a few milliseconds.

A tool run by a fresh interpreter spends most of its time importing the front end. The tool
server is a single-threaded process (started by the controller) that imports the flavour's whole
front end once and forks a small pool of workers (:func:`serve`) that serve tool calls, many
each (:mod:`clustrix_sim.controller.toolworker`): a worker takes one tool-script connection,
adopts the script's stdin/stdout/stderr (passed over the Unix socket with SCM_RIGHTS), working
directory, environment, umask and argv, runs the tool, reports its exit code and goes back to
waiting. The server keeps at least one worker idle (a second tool at once never waits for a
fork) and retires idle workers beyond ``idle_workers`` after a burst.

``srun`` never goes through it: the commands srun starts must stay in the job's own session so
the controller can measure and kill them. When the server is missing or refuses, the script runs
the tool in-process (same result, slower). The client half (:func:`client_run`) imports only
builtin-cheap modules: it runs on every tool invocation.

Wire (:func:`encode_request`, also spoken by the compiled client ``toolclient.c``): the script
sends a 4-byte big-endian length, then NUL-separated fields (POSIX strings hold no NUL): ``MAGIC``,
flavor, tool, cwd, umask, argc, the arguments, the number of environment entries, the ``K=V``
entries; with its fds 0-2 attached. The server answers with the worker's pid (4 bytes), then the
tool's exit code (4 bytes). Meanwhile the script forwards SIGINT/SIGTERM/SIGHUP by writing the
signal's number (one byte) on the connection; when the connection closes without an exit code
after it forwarded one, the script dies of that signal itself, as the real tool would have.
Only the same user can reach the socket (0600 in the 0700 state dir).
"""

from __future__ import annotations

import _signal
import _socket
import os
import struct

SOCKET_NAME = "tools.sock"
IN_PROCESS_ONLY = frozenset({"srun"})
IDLE_WORKERS = 2  # kept waiting when idle: two tools at once start without waiting for a fork
CALLS_PER_WORKER = 1000  # then a worker exits and is replaced (bounds what a long life accumulates)
PRELOADED_STDLIB = ("json", "getpass", "pwd", "grp", "socket", "datetime", "calendar", "argparse", "shlex",
                    "textwrap", "re", "time", "signal", "select", "fcntl")
_FDS = struct.pack("3i", 0, 1, 2)  # the script's stdin, stdout, stderr (SCM_RIGHTS payload)
MAGIC = b"clustrix-sim-tool/2"
_HEADER = struct.Struct("!I")


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

    forwarded = []

    def forward(signum, _frame):  # the worker raises or dies of it (see the module docstring)
        try:
            conn.send(bytes([signum]), _socket.MSG_DONTWAIT)
            forwarded.append(signum)
        except OSError:
            pass

    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(sig, forward)
    try:
        rc = _recv_int(conn)
    except OSError:
        rc = None
    conn.close()
    if rc is None and forwarded:  # the tool was killed by the signal: so is its caller
        _signal.signal(forwarded[-1], _signal.SIG_DFL)
        os.kill(os.getpid(), forwarded[-1])
    return 1 if rc is None else rc


def encode_request(flavor: str, tool: str, argv: list[str], cwd: str, umask: int, environb) -> bytes:
    """The request on the wire: header and NUL-separated fields (see the module docstring)."""
    fields = [MAGIC, flavor.encode(), tool.encode(), os.fsencode(cwd), b"%d" % umask, b"%d" % len(argv),
              *map(os.fsencode, argv), b"%d" % len(environb), *(k + b"=" + v for k, v in environb.items())]
    body = b"\0".join(fields)
    return _HEADER.pack(len(body)) + body


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
def serve(sock_path: str, flavor: str, idle_workers: int = IDLE_WORKERS,
          calls_per_worker: int = CALLS_PER_WORKER) -> None:
    """Preload the tools and run the worker pool until SIGTERM (or the controller's exit).

    Workers report BUSY and IDLE on a shared pipe. A worker that goes busy while no other is
    idle gets a new sibling at once; one that goes idle while more than ``idle_workers`` are
    idle is retired (its retire pipe closed: it exits when it next looks, never mid-call).
    Workers also watch the read end of their retire pipe, whose only writer is the server: when
    the server exits, even by SIGKILL, every idle worker sees EOF and exits too.
    """
    import gc
    import select
    import signal
    import socket
    import sys

    from clustrix_sim.controller import toolworker

    table = preload(flavor)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    os.chmod(sock_path, 0o600)
    listener.listen(128)
    listener.setblocking(False)  # idle workers race for each connection; losers go back to waiting
    state_r, state_w = os.pipe()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    gc.collect()
    gc.freeze()  # workers share the preloaded heap; GC passes would copy every page of it
    retire: dict[int, int] = {}  # worker pid -> write end of its retire pipe
    idle: set[int] = set()

    def fork_worker() -> None:
        retire_r, retire_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # never returns
            toolworker.work(listener, retire_r, state_w, [state_r, retire_w, *retire.values()], flavor, table,
                            calls_per_worker)
        os.close(retire_r)
        retire[pid] = retire_w
        idle.add(pid)

    def forget(pid: int) -> None:
        idle.discard(pid)
        if pid in retire:
            os.close(retire.pop(pid))

    for _ in range(idle_workers):
        fork_worker()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    parent = os.getppid()
    pending = b""
    try:
        while not stop and os.getppid() == parent:  # exit with the controller, even after SIGKILL
            try:
                readable, _, _ = select.select([state_r], [], [], 0.5)
            except InterruptedError:
                continue
            if readable:
                pending += os.read(state_r, 4096)
                usable = len(pending) - len(pending) % toolworker.STATE.size
                for offset in range(0, usable, toolworker.STATE.size):
                    pid, state = toolworker.STATE.unpack_from(pending, offset)
                    if pid not in retire:
                        continue
                    if state == toolworker.IDLE:
                        idle.add(pid)
                    else:
                        idle.discard(pid)
                pending = pending[usable:]
            for pid in _reap():
                forget(pid)
            while len(idle) > idle_workers:
                forget(max(idle))  # any surplus worker will do
            if not stop and (not idle or len(retire) < idle_workers):
                fork_worker()
    finally:
        for fd in (listener, state_r, state_w, *retire.values()):
            toolworker.close_quietly(fd)
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass


def preload(flavor: str):
    """Import the flavour's tool table and every module of its front end (the tools import
    their helpers lazily; every worker that imported them would pay for it again)."""
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


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m clustrix_sim.controller.toolserver")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--flavor", required=True)
    parser.add_argument("--idle-workers", type=int, default=IDLE_WORKERS)
    parser.add_argument("--calls-per-worker", type=int, default=CALLS_PER_WORKER)
    args = parser.parse_args(argv)
    if args.idle_workers < 1:
        parser.error(f"--idle-workers must be at least 1, got {args.idle_workers}")
    if args.calls_per_worker < 1:
        parser.error(f"--calls-per-worker must be at least 1, got {args.calls_per_worker}")
    serve(args.socket, args.flavor, args.idle_workers, args.calls_per_worker)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
