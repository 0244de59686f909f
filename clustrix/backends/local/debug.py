"""Running calls inside this process: per-thread output capture, thread jobs, and DebugBackend.

In-process execution keeps the exception *object* (no pickling), so tracebacks and ``pdb`` work,
but it cannot kill a call: a thread job past its time limit has its future failed with
``JobTimeoutError`` while the thread runs on in the background (Python cannot stop a thread), and
a running thread job cannot be cancelled. Use the default process mode when that matters.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from clustrix.backends.array_plan import check_chunk_size
from clustrix.backends.base import ArrayItem, cancel_each, check_items
from clustrix.config.profile import Profile
from clustrix.futures import JobFuture
from clustrix.payload.codec import Call, ResultEnvelope, qualified_name
from clustrix.spec import JobSpec


class _ThreadRouter:
    """Replaces sys.stdout/sys.stderr: writes through, and copies writes of registered threads."""

    def __init__(self, real: Any):
        self.real = real
        self.local = threading.local()

    def write(self, text: str) -> int:
        buf = getattr(self.local, "buf", None)
        if buf is not None:
            buf.append(text)
        if self.real is not None:
            return self.real.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.real is not None:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


_install_lock = threading.Lock()
_users = 0


@contextmanager
def capture_thread_output() -> Iterator[tuple[list[str], list[str]]]:
    """Capture what *this thread* prints to sys.stdout/sys.stderr (still shown as usual).

    Yields two growing lists of text pieces (stdout, stderr). Threads the call starts itself are
    not captured (their output still appears on the console).
    """
    global _users
    with _install_lock:
        if not isinstance(sys.stdout, _ThreadRouter):
            sys.stdout = _ThreadRouter(sys.stdout)
        if not isinstance(sys.stderr, _ThreadRouter):
            sys.stderr = _ThreadRouter(sys.stderr)
        out_router, err_router = sys.stdout, sys.stderr
        _users += 1
    out: list[str] = []
    err: list[str] = []
    out_router.local.buf, err_router.local.buf = out, err
    try:
        yield out, err
    finally:
        out_router.local.buf = err_router.local.buf = None
        with _install_lock:
            _users -= 1
            if _users == 0:  # restore only what we installed and nobody replaced since
                if sys.stdout is out_router:
                    sys.stdout = out_router.real
                if sys.stderr is err_router:
                    sys.stderr = err_router.real


def run_in_this_thread(call: Call, out: list[str], err: list[str]) -> tuple[ResultEnvelope, BaseException | None]:
    """Run ``call`` here; return an envelope (value, output, timings) and the exception object.

    ``KeyboardInterrupt`` is not captured: it belongs to the user at the keyboard.
    """
    started = time.time()
    exc: BaseException | None = None
    value: Any = None
    try:
        value = call.run()
    except KeyboardInterrupt:
        raise
    except BaseException as caught:  # noqa: BLE001 - SystemExit travels in the future too
        exc = caught
    env = ResultEnvelope(
        ok=exc is None, value=value, exc_type="" if exc is None else qualified_name(type(exc)),
        exc_message="" if exc is None else str(exc), stdout="".join(out), stderr="".join(err),
        host=os.uname().nodename, pid=os.getpid(), started=started, ended=time.time(),
    )
    return env, exc


class DebugBackend:
    """Runs each call synchronously in the calling thread, so breakpoints and ``pdb`` work.

    ``submit`` returns an already-resolved future; an exception is the original object with its
    own traceback (not a copy). Output is captured for ``stdout()``/``stderr()`` and still
    printed. Time limits are not enforced (a debugger session would trip them).
    """

    def __init__(self, profile: Profile | None = None):
        self.profile = profile or Profile(backend="debug")
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closed = False

    def _new_id(self) -> str:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a DebugBackend after shutdown()")
            return f"debug-{next(self._ids)}"

    def submit(self, call: Call, spec: JobSpec) -> JobFuture:
        """Run ``call`` now and return its resolved future."""
        if not isinstance(call, Call):
            raise TypeError(f"submit needs a clustrix.payload.codec.Call, got {type(call).__name__}")
        fut = JobFuture(self._new_id())
        fut.mark_running()
        with capture_thread_output() as (out, err):
            env, exc = run_in_this_thread(call, out, err)
        fut.resolve(env, value=env.value, exception=exc)
        return fut

    def submit_array(self, fn: Callable[..., Any], items: Sequence[ArrayItem], spec: JobSpec,
                     *, chunk_size: int | None = None) -> list[JobFuture]:
        """Run every item now, in order; one resolved future per item (``chunk_size`` is checked
        and otherwise meaningless here)."""
        check_chunk_size(chunk_size)
        return [self.submit(Call(fn, args, kwargs), spec) for args, kwargs in check_items(items)]

    def cancel_futures(self, futures: Iterable[Future[Any]]) -> int:
        """Cancel each future in turn (there is no bulk command to save here)."""
        return cancel_each(futures)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse further submissions (every submitted call has already run)."""
        with self._lock:
            self._closed = True
