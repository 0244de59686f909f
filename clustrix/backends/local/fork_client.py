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
flushed), skipping only the teardown nobody can observe (see
``clustrix.backends.local.fork_server._exit_like_an_interpreter``).

The backend falls back to a plain runner subprocess (see :meth:`ForkServer.matches` and
``LocalBackend._spawn``) where a fork cannot be equivalent: setup lines (they need a shell), environment variables the interpreter or
the dynamic linker only read at start-up (``PYTHON*``, ``LD_*``) that differ from the server's,
and platforms without ``fork`` and ``os.pidfd_open`` (Linux >= 5.3). If the server dies, the
calls it ran are failed, their process groups killed, and the next call starts a new server.

This module is the backend's side; :mod:`clustrix.backends.local.fork_server` is the server's.
Wire protocol (private; the two ends are one clustrix version): frames of a 4-byte big-endian
length and a plain pickle of a dict of builtins, over the server's stdin (requests:
``run``/``signal``/``forget``) and stdout (replies: ``started``/``exited``/``failed``).
"""

from __future__ import annotations

import itertools
import os
import pickle
import struct
import subprocess
import sys
import threading

from clustrix.errors import ForkServerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_FRAME = struct.Struct(">I")
WARM_MODULES = (
    "cloudpickle",  # every function that travels by value needs it (~40 ms to import)
    "clustrix.payload.runner",
    "clustrix.payload.codec",
    "clustrix.api.job_entry",  # payloads from ClusterExecutor and @cluster reference JobEntry here
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
    """The backend's end of one server process (thread-safe); the server is
    :mod:`clustrix.backends.local.fork_server`."""

    START_DEADLINE_S = 60.0

    def __init__(self, env: dict[str, str], cwd: str):
        self.startup = startup_env(env)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "clustrix.backends.local.fork_server"], stdin=subprocess.PIPE,
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
