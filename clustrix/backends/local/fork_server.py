"""The fork server itself (``python -m clustrix.backends.local.fork_server``); see
:mod:`clustrix.backends.local.fork_client` for what it is for and for the backend's side.

Single-threaded by design: it forks, so no other thread may ever hold a lock in it. It reads
requests on a private copy of its stdin, forks one child per ``run`` request, tells the backend
the child's pid once the child has its own session, reaps children through pidfds, signals
their process groups on request, and when its stdin closes (the backend is gone) kills them all.
"""

from __future__ import annotations

import gc
import importlib
import os
import select
import sys

from clustrix.backends.local.fork_client import WARM_MODULES, decode_frames, encode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
        from clustrix.payload import runner

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
    """``python -m clustrix.backends.local.fork_server``: preload, then serve on stdin/stdout until EOF."""
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
