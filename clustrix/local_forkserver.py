"""A warm fork server for the local backend: each call still gets its own, killable process.

Starting ``python -m clustrix.runner`` costs a call ~25 ms here, and ~40 ms more when the
function travelled by value (importing cloudpickle). The local backend pays that per call, so it
starts this server once: a process that has imported the runner and cloudpickle and nothing of
the user's, and that forks a child per call. Each child is a copy of that pristine state (never
of an earlier call), runs in its own session with its own log files, working directory and
environment, and is killed alone, exactly like a runner subprocess: the backend's time limits
and ``cancel()`` signal the child's process group (through the server, which is the child's
parent and so can never signal a recycled pid). If the client dies, even by SIGKILL, the server
sees its pipe close and kills every call it runs.

What a child inherits from the server rather than from the client at call time: the hash seed
(``str`` hashes are the same in every call of one backend, as in one multiprocessing pool; the
``random`` module is reseeded per child), the umask, resource limits and nice value. A child
exits as ``python -m clustrix.runner`` does (threads joined, ``atexit`` handlers run, files
flushed), skipping only the teardown nobody can observe (see :func:`_exit_like_an_interpreter`).

The backend falls back to a plain runner subprocess (see :meth:`ForkServer.matches` and
``LocalBackend._spawn``) where a fork cannot be equivalent: setup lines (they need a shell), environment variables the interpreter or
the dynamic linker only read at start-up (``PYTHON*``, ``LD_*``) that differ from the server's,
and platforms without ``fork`` and ``os.pidfd_open`` (Linux >= 5.3). If the server dies, the
calls it ran are failed, their process groups killed, and the next call starts a new server.

Wire protocol (private; the two ends are one clustrix version): frames of a 4-byte big-endian
length and a plain pickle of a dict of builtins, over the server's stdin (requests:
``run``/``signal``/``forget``) and stdout (replies: ``started``/``exited``/``failed``).
"""

from __future__ import annotations

import gc
import importlib
import itertools
import os
import pickle
import select
import struct
import subprocess
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_FRAME = struct.Struct(">I")
WARM_MODULES = (
    "cloudpickle",  # every function that travels by value needs it (~40 ms to import)
    "clustrix.runner",
    "clustrix.payload",
    "clustrix.job_entry",
    # Payloads from ClusterExecutor and @cluster reference JobEntry by its module; while that is
    # clustrix.executor (which pulls in the config machinery, ~50 ms), each child would import
    # it again. Importing it defines names and nothing else.
    "clustrix.executor",
)
"""What the server imports before it forks anything (clustrix and cloudpickle only: no user code)."""
STARTUP_ENV_PREFIXES = ("PYTHON", "LD_", "DYLD_")
"""Variables read when a process starts: a forked child cannot honour a different value."""


def supported() -> bool:
    """Whether this platform has what the server needs (fork and pidfds: Linux >= 5.3)."""
    return hasattr(os, "fork") and hasattr(os, "pidfd_open") and sys.platform.startswith("linux")


def startup_env(env: dict[str, str]) -> dict[str, str]:
    """The part of ``env`` a running interpreter cannot change for itself."""
    return {k: v for k, v in env.items() if k.startswith(STARTUP_ENV_PREFIXES)}


def encode(message: dict[str, Any]) -> bytes:
    """One frame."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(body)) + body


def decode_frames(buffer: bytearray) -> list[dict[str, Any]]:
    """Remove and return every complete frame at the start of ``buffer``."""
    messages = []
    while len(buffer) >= _FRAME.size:
        (size,) = _FRAME.unpack_from(buffer)
        if len(buffer) < _FRAME.size + size:
            break
        messages.append(pickle.loads(bytes(buffer[_FRAME.size : _FRAME.size + size])))
        del buffer[: _FRAME.size + size]
    return messages


# --------------------------------------------------------------------------- the client


class ForkServerError(RuntimeError):
    """The fork server could not start a call (it died, or could not fork)."""


class ForkedProcess:
    """A call's process, forked by the server; used by the backend like a ``Popen``."""

    def __init__(self, server: ForkServer, job: int):
        self._server = server
        self.job = job
        self.pid = 0
        self.returncode: int | None = None
        self.error = ""
        self._started = threading.Event()
        self._exited = threading.Event()

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal), as ``Popen.wait``."""
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"clustrix.runner (pid {self.pid})", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def signal_group(self, sig: int) -> None:
        """Signal the call's process group (the server, its parent, does it: no pid reuse race)."""
        if not self._server.send({"op": "signal", "id": self.job, "sig": int(sig)}) and self.pid:
            _killpg_quietly(self.pid, sig)  # the server is gone: best effort from here

    def release(self) -> None:
        """The backend is done with this call: the server may forget its process group."""
        self._server.send({"op": "forget", "id": self.job})


class ForkServer:
    """The backend's end of one server process (thread-safe)."""

    START_DEADLINE_S = 60.0

    def __init__(self, env: dict[str, str], cwd: str):
        self.startup = startup_env(env)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "clustrix.local_forkserver"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True, close_fds=True,
        )
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._calls: dict[int, ForkedProcess] = {}
        self._ids = itertools.count(1)
        self.alive = True
        self.started_any = False  # a server that dies before its first call is broken, not unlucky
        self._reader = threading.Thread(target=self._read, name="clustrix-forkserver-reader", daemon=True)
        self._reader.start()

    def matches(self, env: dict[str, str]) -> bool:
        """Whether a call with this environment can be forked here."""
        return self.alive and startup_env(env) == self.startup

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> ForkedProcess:
        """Fork a runner for ``argv``; returns once it runs in its own session."""
        with self._lock:
            proc = ForkedProcess(self, next(self._ids))
            self._calls[proc.job] = proc
        request = {"op": "run", "id": proc.job, "argv": list(argv), "env": dict(env), "cwd": cwd,
                   "stdout": stdout, "stderr": stderr}
        if not self.send(request) or not proc._started.wait(self.START_DEADLINE_S) or not proc.pid:
            with self._lock:
                self._calls.pop(proc.job, None)
            raise ForkServerError(proc.error or "the clustrix fork server is not running")
        return proc

    def send(self, message: dict[str, Any]) -> bool:
        """Send a request; False if the server is gone."""
        with self._write_lock:
            if not self.alive:
                return False
            try:
                self._proc.stdin.write(encode(message))  # type: ignore[union-attr]
                self._proc.stdin.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):
                return False
        return True

    def _read(self) -> None:
        buffer = bytearray()
        fd = self._proc.stdout.fileno()  # type: ignore[union-attr]
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            buffer += data
            for message in decode_frames(buffer):
                with self._lock:
                    proc = self._calls.get(message["id"])
                    if message["op"] == "exited":
                        self._calls.pop(message["id"], None)
                if proc is None:
                    continue
                if message["op"] == "started":
                    self.started_any = True
                    proc.pid = message["pid"]
                    proc._started.set()
                elif message["op"] == "failed":
                    proc.error = message["error"]
                    proc._started.set()
                elif message["op"] == "exited":
                    proc.returncode = message["code"]
                    proc._exited.set()
        self._lost()

    def _lost(self) -> None:
        """The server died (or was closed): kill what it was running, end every wait."""
        with self._write_lock:
            self.alive = False
        with self._lock:
            calls, self._calls = list(self._calls.values()), {}
        for proc in calls:
            if proc.pid and not proc._exited.is_set():
                _killpg_quietly(proc.pid, 9)  # SIGKILL; orphans would otherwise run on
                proc.returncode = -9
            proc.error = proc.error or "the clustrix fork server exited"
            proc._started.set()
            proc._exited.set()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the server: it SIGKILLs the calls still running and exits."""
        with self._write_lock:
            try:
                self._proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        self._reader.join(timeout_s)


def _killpg_quietly(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------- the server


class _Server:
    """Single-threaded: it forks, so it must never hold a lock another thread could own."""

    def __init__(self, proto_in: int, proto_out: int):
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.waiting: dict[int, tuple[int, int]] = {}  # pidfd -> (job id, pid): not reaped yet
        self.groups: dict[int, int] = {}  # job id -> process group id, until the client forgets it

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(encode(message))
        while data:
            data = data[os.write(self.proto_out, data):]

    def serve(self) -> None:
        buffer = bytearray()
        while True:
            ready, _, _ = select.select([self.proto_in, *self.waiting], [], [])
            for fd in ready:
                if fd != self.proto_in:
                    self.reap(fd)
                    continue
                data = os.read(self.proto_in, 1 << 16)
                if not data:  # the backend is gone (even SIGKILLed): take every call with it
                    self.kill_all()
                    return
                buffer += data
                for message in decode_frames(buffer):
                    self.handle(message)

    def handle(self, message: dict[str, Any]) -> None:
        op, job = message["op"], message["id"]
        if op == "run":
            self.start(job, message)
        elif op == "signal":
            pgid = self.groups.get(job)
            if pgid is not None:
                try:
                    os.killpg(pgid, message["sig"])
                except (ProcessLookupError, PermissionError):
                    pass
        elif op == "forget":
            self.groups.pop(job, None)

    def start(self, job: int, request: dict[str, Any]) -> None:
        ready_r, ready_w = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(ready_r), os.close(ready_w)
            self.send({"op": "failed", "id": job, "error": f"fork failed: {exc}"})
            return
        if pid == 0:  # the child: raises SystemExit, which ends it (nothing here catches it)
            os.close(ready_r)
            _child(request, ready_w, [self.proto_in, self.proto_out, *self.waiting])
        os.close(ready_w)
        os.read(ready_r, 1)  # EOF once the child has its own session (or died trying)
        os.close(ready_r)
        self.waiting[os.pidfd_open(pid)] = (job, pid)
        self.groups[job] = pid
        self.send({"op": "started", "id": job, "pid": pid})

    def reap(self, pidfd: int) -> None:
        job, pid = self.waiting.pop(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        self.send({"op": "exited", "id": job, "code": os.waitstatus_to_exitcode(status)})

    def kill_all(self) -> None:
        for pgid in self.groups.values():
            try:
                os.killpg(pgid, 9)  # SIGKILL
            except (ProcessLookupError, PermissionError):
                pass
        for pidfd, (_, pid) in list(self.waiting.items()):
            os.waitpid(pid, 0)
            os.close(pidfd)


def _child(request: dict[str, Any], ready_w: int, server_fds: list[int]) -> None:
    """Become the job: own session, logs on fds 1 and 2, the call's cwd and env, then run.

    Never returns into the server loop: see :func:`_exit_like_an_interpreter`.
    """
    code = 71  # EX_OSERR: the child could not be set up
    modules_before = set(sys.modules)
    try:
        os.setsid()
        os.close(ready_w)
        for fd in server_fds:
            os.close(fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["stdout"], flags, 0o666)
        err = os.open(request["stderr"], flags, 0o666)
        for src, dst in ((null, 0), (out, 1), (err, 2)):
            os.dup2(src, dst)
            os.close(src)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]  # what ``python -m`` puts first, started in that directory
        from clustrix import runner

        sys.argv = [runner.__file__, *request["argv"]]
        code = runner.main(request["argv"])
    except BaseException:  # noqa: BLE001 - a setup failure must end this process, not the server
        import traceback

        traceback.print_exc()
    _exit_like_an_interpreter(code, modules_before)


def _exit_like_an_interpreter(code: int, modules_before: set[str]) -> None:
    """Exit as ``python -m clustrix.runner`` would, as fast as that allows.

    Interpreter shutdown joins non-daemon threads, runs ``atexit`` handlers, flushes stdio,
    then finalizes what is left (unclosed files are flushed and closed, ``__del__`` methods and
    weakref callbacks run) and calls C ``exit()`` (C libraries' handlers: HDF5 flushes its files).
    The first three are done here. The rest costs a child ~14 ms, mostly tearing down the warm
    modules, and is only observable through what the call left behind: a module it imported
    (and whatever C library came with it), or a live object with a finalizer or a weakref
    callback. If the call left none of those, ``os._exit`` ends the child with nothing skipped
    that anyone could see; otherwise ``SystemExit`` unwinds to the interpreter (nothing on the
    way up catches it) for the full shutdown.
    """
    import atexit
    import threading

    join_threads = getattr(threading, "_shutdown", None)  # a second call returns at once
    run_atexit = getattr(atexit, "_run_exitfuncs", None)
    clear_atexit = getattr(atexit, "_clear", None)
    if join_threads is None or run_atexit is None or clear_atexit is None:  # not CPython
        raise SystemExit(code)  # the full shutdown does it all
    try:
        join_threads()
    except BaseException:  # noqa: BLE001, S110 - as at interpreter exit: go on exiting
        pass
    run_atexit()  # prints what a handler raises and goes on, as at interpreter exit
    clear_atexit()  # they ran: the full shutdown below, if needed, must not run them again
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the interpreter would exit with 120
            code = code or 120
    if not set(sys.modules) <= modules_before or _finalizable_leftovers():
        raise SystemExit(code)
    os._exit(code)


def _finalizable_leftovers() -> bool:
    """Whether an object created since the fork would do something visible when finalized.

    The server froze its own objects (``gc.freeze``), so the collector lists only the call's.
    Conservative: anything with a finalizer counts, except closed files and finished
    generators (their finalizers do nothing), and so does every weakref callback except the
    bookkeeping of the interpreter's own weak containers (ABC caches, ``WeakSet``...).
    """
    import io
    import types
    import weakref

    own_containers = {weakref.__file__, sys.modules["_weakrefset"].__file__}
    frames = {types.GeneratorType: "gi_frame", types.CoroutineType: "cr_frame",
              types.AsyncGeneratorType: "ag_frame"}
    try:
        for obj in gc.get_objects():
            cls = type(obj)
            if issubclass(cls, weakref.ref):
                callback = obj.__callback__
                if callback is None or isinstance(callback, types.BuiltinFunctionType):
                    continue
                if getattr(getattr(callback, "__code__", None), "co_filename", None) not in own_containers:
                    return True
            elif cls in frames:
                if getattr(obj, frames[cls]) is not None:  # suspended: its finally blocks would run
                    return True
            elif issubclass(cls, io.IOBase):
                if not obj.closed:  # close() flushes (and writes trailers: gzip...)
                    return True
            elif hasattr(cls, "__del__"):
                return True
    except Exception:  # noqa: BLE001 - an odd object: assume the worst, do the full shutdown
        return True
    return False


def main() -> None:
    """``python -m clustrix.local_forkserver``: preload, then serve on stdin/stdout until EOF."""
    # Keep the protocol off fds 0 and 1, so nothing printed by accident can corrupt it.
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0), os.dup2(null, 1)
    os.close(null)
    for module in WARM_MODULES:
        importlib.import_module(module)
    # Move the warm set out of the collector's sight: children neither traverse it in their
    # collections (nor copy its pages to do so), nor at exit (halves a child's shutdown).
    gc.freeze()
    _Server(proto_in, proto_out).serve()


if __name__ == "__main__":
    main()
