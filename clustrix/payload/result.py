"""What a job sends back: one :class:`ResultEnvelope` per call, and how it becomes a value or a raise.

A remote exception is pickled *separately* from the envelope (``exc_pickle``) so an exception
whose class is missing on the client, or whose pickle is broken, degrades to
:class:`~clustrix.errors.RemoteError` (type name, message and traceback kept) instead of making the
whole result unreadable. When it does rebuild, the caller gets the original type, with the remote
traceback attached as ``__cause__`` (a :class:`RemoteTraceback`, as ``concurrent.futures`` does for
process pools) and, on Python 3.11+, as a note, so ``except KeyError:`` works and the printed
traceback shows where the job failed.
"""

from __future__ import annotations

import sys

from clustrix.payload.format import PICKLE_PROTOCOL, pickle_dumps, pickle_loads
from clustrix.payload.records import FrozenRecord

# Nothing heavy at import time: the job-side runner builds envelopes once per job, so cloudpickle,
# dataclasses, typing and clustrix.errors load only when a path needs them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

class RemoteTraceback(Exception):
    """Carries a remote traceback's text; its ``str`` is that text (set as ``__cause__``)."""

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


def qualified_name(cls: type) -> str:
    """``KeyError`` for builtins, ``package.module.Class`` for everything else."""
    module = getattr(cls, "__module__", None) or "?"
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    return name if module == "builtins" else f"{module}.{name}"


class ResultEnvelope(FrozenRecord):
    """The outcome of one call on the execution host.

    ``ok`` says whether ``value`` holds the return value; otherwise ``exc_type`` (qualified name),
    ``exc_message``, ``exc_pickle`` (the pickled exception, or None when it could not be pickled)
    and ``remote_traceback`` describe what was raised. ``stdout``/``stderr`` are what the call
    printed (a very long output keeps its tail, marked), ``host``/``pid`` where it ran, and
    ``started``/``ended`` are epoch seconds. Immutable, compared and hashed by value, like the
    frozen dataclass it replaces (see :mod:`clustrix.payload.records` for why it is not one).
    """

    __slots__ = ("ok", "value", "exc_type", "exc_message", "exc_pickle", "remote_traceback", "stdout",
                 "stderr", "host", "pid", "started", "ended")

    ok: bool
    value: Any
    exc_type: str
    exc_message: str
    exc_pickle: bytes | None
    remote_traceback: str
    stdout: str
    stderr: str
    host: str
    pid: int
    started: float
    ended: float

    def __init__(
        self,
        ok: bool,
        value: Any = None,
        exc_type: str = "",
        exc_message: str = "",
        exc_pickle: bytes | None = None,
        remote_traceback: str = "",
        stdout: str = "",
        stderr: str = "",
        host: str = "",
        pid: int = 0,
        started: float = 0.0,
        ended: float = 0.0,
    ):
        init = object.__setattr__
        init(self, "ok", ok)
        init(self, "value", value)
        init(self, "exc_type", exc_type)
        init(self, "exc_message", exc_message)
        init(self, "exc_pickle", exc_pickle)
        init(self, "remote_traceback", remote_traceback)
        init(self, "stdout", stdout)
        init(self, "stderr", stderr)
        init(self, "host", host)
        init(self, "pid", pid)
        init(self, "started", started)
        init(self, "ended", ended)

    @property
    def duration_s(self) -> float:
        """Wall-clock seconds the call took on the execution host."""
        return max(0.0, self.ended - self.started)

    def exception(self) -> BaseException | None:
        """Rebuild the remote exception (a fresh object per call), or None when ``ok``."""
        if self.ok:
            return None
        exc: object = None
        if self.exc_pickle is not None:
            try:
                exc = pickle_loads(self.exc_pickle)
            except Exception:  # noqa: BLE001 - class missing here, or a broken __reduce__
                exc = None
        if not isinstance(exc, BaseException):
            from clustrix.errors import RemoteError

            return RemoteError(self.exc_type or "<unknown>", self.exc_message, self.remote_traceback)
        if isinstance(exc, SystemExit):
            # Re-raised as is, it would end the *caller's* process with the job's exit code.
            from clustrix.errors import JobExitError

            return JobExitError.from_system_exit(exc, stdout=self.stdout, stderr=self.stderr,
                                                 remote_traceback=self.remote_traceback)
        if self.remote_traceback:
            exc.__cause__ = RemoteTraceback(self.remote_traceback)
            add_note = getattr(exc, "add_note", None)  # Python >= 3.11
            if add_note is not None:
                add_note("Remote traceback:\n" + self.remote_traceback.rstrip())
        return exc

    def unwrap(self) -> Any:
        """Return the value, or raise the remote exception with its original type.

        Raises :class:`~clustrix.errors.RemoteError` when the type cannot be rebuilt here.
        """
        if self.ok:
            return self.value
        exc = self.exception()
        assert exc is not None  # not ok implies an exception
        raise exc


def dumps_portable(obj: object) -> bytes:
    """Pickle ``obj`` for another process: plain :mod:`pickle` when it can, cloudpickle otherwise.

    Used for what a job sends back. Plain pickle refuses exactly what needs cloudpickle (lambdas,
    closures, classes and functions of ``__main__`` or of modules that are not importable: its
    by-reference lookups check identity), and it saves the job importing cloudpickle (~6 ms) when
    the result is plain data. Once cloudpickle is loaded (the payload held by-value code, or the
    user imported it, perhaps to register modules to pickle by value), it is used directly, so
    results are pickled as cloudpickle always pickled them.
    """
    if "cloudpickle" not in sys.modules:
        try:
            return pickle_dumps(obj, protocol=PICKLE_PROTOCOL)
        except Exception:  # noqa: BLE001 - anything plain pickle refuses goes to cloudpickle
            pass
    import cloudpickle

    return cloudpickle.dumps(obj, protocol=PICKLE_PROTOCOL)


def pickle_exception(exc: BaseException) -> bytes | None:
    """Pickle ``exc`` if it survives a round trip here; otherwise None (the client gets RemoteError)."""
    try:
        blob = dumps_portable(exc)
        pickle_loads(blob)  # custom __init__ signatures often pickle but fail to unpickle
    except Exception:  # noqa: BLE001 - anything unpicklable degrades to RemoteError
        return None
    return blob


def exception_envelope(
    exc: BaseException,
    remote_traceback: str,
    *,
    stdout: str = "",
    stderr: str = "",
    host: str = "",
    pid: int = 0,
    started: float = 0.0,
    ended: float = 0.0,
) -> ResultEnvelope:
    """An envelope for a call that raised ``exc``."""
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not lose the result
        message = f"<{qualified_name(type(exc))} whose str() failed>"
    return ResultEnvelope(
        ok=False,
        exc_type=qualified_name(type(exc)),
        exc_message=message,
        exc_pickle=pickle_exception(exc),
        remote_traceback=remote_traceback,
        stdout=stdout,
        stderr=stderr,
        host=host,
        pid=pid,
        started=started,
        ended=ended,
    )


def error_envelope(exc: BaseException, *, base: ResultEnvelope | None = None) -> ResultEnvelope:
    """An envelope carrying a clustrix-side error ``exc``, keeping ``base``'s output and timing."""
    env = exception_envelope(exc, "")
    if base is None:
        return env
    return ResultEnvelope(
        ok=False, value=None, exc_type=env.exc_type, exc_message=env.exc_message, exc_pickle=env.exc_pickle,
        remote_traceback=base.remote_traceback, stdout=base.stdout, stderr=base.stderr, host=base.host,
        pid=base.pid, started=base.started, ended=base.ended,
    )
