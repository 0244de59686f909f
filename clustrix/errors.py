"""The clustrix error tree.

Every error carries its evidence (the command, exit code, stderr, job id, remote traceback) so that a
user reading one message knows what failed and how to fix it::

    ClustrixError
    ├── ConfigError            bad profile, config file or key (also a ValueError)
    │   └── ConfigErrors       several of them, reported together (``problems``)
    ├── ResourceError          bad resource value: memory, time, cores... (also a ValueError)
    ├── SchedulerOutputError   scheduler output that cannot be parsed
    ├── CommandError           a scheduler command exited non-zero
    │   └── SubmissionError    the submit command failed
    ├── StatusQueryError       a status round failed (wraps a CommandError or TransportError;
    │                          ``transient`` ones are retried longer)
    ├── ForkServerError        the local backend's fork server could not start a call
    ├── EnvironmentBuildError  a job environment (venv on the cluster) could not be made ready,
    │                          before any submission (names the item, carries the log's tail)
    ├── TransportError         the way to the cluster failed (names the host)
    │   ├── HostKeyError       unknown or changed SSH host key
    │   ├── AuthenticationError
    │   ├── ConnectionLostError
    │   └── CommandTimeoutError
    ├── PayloadError           a payload or result file is unreadable
    │   ├── PayloadAuthError   a result failed HMAC verification (never unpickled)
    │   └── KeyFileError       a key file is missing, malformed, too permissive, in the way, or
    │                          writable by someone else (owner, mode, or its directory)
    ├── PreflightError         the cluster's Python cannot load what this client sends (Python
    │                          minor version, cloudpickle, clustrix missing or too old), or the
    │                          user's local code cannot be shipped; names both sides and the fix
    ├── RemoteError            the remote function raised an exception whose type cannot be
    │                          rebuilt here (the original type name and traceback are kept)
    └── JobError               the job itself ended badly (no result to return)
        ├── JobFailedError     non-zero exit without a result
        ├── JobTimeoutError    walltime exceeded
        ├── JobOutOfMemoryError
        ├── JobNodeFailError
        ├── JobPreemptedError
        ├── JobCancelledError  also a concurrent.futures.CancelledError
        ├── JobLostError       vanished from queue and accounting with no sentinel
        └── JobExitError       the function called ``sys.exit(n)`` (carries n and the output)

:class:`ClustrixWarning` (a ``UserWarning``) marks what works, but not as written: a time limit
the scheduler rounds up, for one.

Waiting longer than a caller's ``timeout`` raises the built-in ``TimeoutError`` (which is
``concurrent.futures.TimeoutError``), as ``Future.result`` does.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence


class ClustrixWarning(UserWarning):
    """Something works, but not as written (e.g. a time limit the scheduler rounds up)."""


class ClustrixError(Exception):
    """Base class of every error clustrix raises on purpose."""


class ConfigError(ClustrixError, ValueError):
    """A configuration value, key, file or profile is invalid or missing.

    ``source`` names the file (or "argument") and ``key`` the offending key when known.
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        where = ""
        if source and key:
            where = f"{source}: key {key!r}: "
        elif source:
            where = f"{source}: "
        elif key:
            where = f"key {key!r}: "
        super().__init__(where + message)
        self.source = source
        self.key = key


class ConfigErrors(ConfigError):
    """Several configuration problems found in one pass; ``problems`` holds each one."""

    def __init__(self, problems: Sequence[ConfigError]):
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problems:\n{listing}")

    @staticmethod
    def of(problems: Sequence[ConfigError]) -> ConfigError:
        """The one problem itself, or all of them as one :class:`ConfigErrors`."""
        flat = [q for p in problems for q in (p.problems if isinstance(p, ConfigErrors) else [p])]
        return flat[0] if len(flat) == 1 else ConfigErrors(flat)


def did_you_mean(key: object, valid: Sequence[str]) -> str:
    """`` (did you mean 'partition'?)`` for a near miss among ``valid``, else ``""``."""
    import difflib

    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class ResourceError(ClustrixError, ValueError):
    """A resource request (memory, time, cores, array range...) is malformed or out of range."""

    def __init__(self, field: str, value: object, accepted: str):
        super().__init__(f"invalid {field} {value!r}: expected {accepted}")
        self.field = field
        self.value = value
        self.accepted = accepted


class SchedulerOutputError(ClustrixError):
    """Scheduler output did not have the pinned format the parser expects."""

    def __init__(self, message: str, *, text: str = "", command: Sequence[str] | None = None):
        shown = text if len(text) <= 400 else text[:400] + "..."
        cmd = f" from {' '.join(command)!r}" if command else ""
        super().__init__(f"{message}{cmd}; output was: {shown!r}")
        self.text = text
        self.command = list(command) if command else None


class CommandError(ClustrixError):
    """A scheduler command exited with a non-zero status."""

    def __init__(
        self,
        argv: Sequence[str],
        exit_code: int,
        stdout: str = "",
        stderr: str = "",
        *,
        host: str | None = None,
        hint: str = "",
    ):
        where = f" on {host}" if host else ""
        detail = stderr.strip() or stdout.strip() or "(no output)"
        msg = f"command {' '.join(argv)!r} exited {exit_code}{where}: {detail}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
        self.argv = list(argv)
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.host = host


class SubmissionError(CommandError):
    """The scheduler refused a job (``sbatch``/``qsub`` failed)."""


class TransportError(ClustrixError):
    """Running a command or moving a file to or from a host failed."""

    def __init__(self, message: str, *, host: str | None = None, cause: BaseException | None = None):
        prefix = f"{host}: " if host else ""
        super().__init__(prefix + message)
        self.host = host
        if cause is not None:
            self.__cause__ = cause


class HostKeyError(TransportError):
    """The host's SSH key is unknown or does not match known_hosts."""


class AuthenticationError(TransportError):
    """The SSH server rejected every credential offered."""


class ConnectionLostError(TransportError):
    """The connection dropped and could not be re-established in time."""


class CommandTimeoutError(TransportError):
    """A remote command did not finish within its timeout."""


class PayloadError(ClustrixError):
    """A payload or result file is missing, truncated or not a clustrix envelope."""


class PayloadAuthError(PayloadError):
    """A result file's HMAC does not match: it was not written by this key's owner."""


class KeyFileError(PayloadError):
    """A key file is missing, unreadable, malformed, too permissive, or would be overwritten.

    Also raised for a key that someone else could have written: owned by another user, a
    symbolic link, or in a directory others own or can write. ``path`` names the key file when
    known; the message names the fix (``chmod``/``chown``/``rm``).
    """

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.path = path


class EnvironmentBuildError(ClustrixError):
    """A job environment (``environment:`` of a profile) could not be made ready.

    Raised before any job is submitted. ``item`` names the requirement, path or step at fault
    when known; ``log_tail`` is the end of the build log (kept on the cluster at ``log_path``).
    """

    def __init__(self, message: str, *, item: str | None = None, log_tail: str = "",
                 log_path: str | None = None, host: str | None = None):
        super().__init__(message)
        self.item = item
        self.log_tail = log_tail
        self.log_path = log_path
        self.host = host


class PreflightError(ClustrixError):
    """The execution host's Python cannot run what this client would send, found before submitting.

    Raised by the one remote check made before the first submission to a host (see
    :mod:`clustrix.payload.compat`) and when the user's local code cannot be shipped (see
    :mod:`clustrix.payload.code_archive`). ``problems`` lists each mismatch as one line naming
    the client's value, the host's value and the fix.
    """

    def __init__(self, message: str, *, problems: Sequence[str] = ()):
        super().__init__(message)
        self.problems = tuple(problems)


class StatusQueryError(ClustrixError):
    """A status command failed. ``transient`` errors are retried longer than hard ones.

    ``error`` is the evidence: the :class:`CommandError` (argv, exit code, stderr) or the
    :class:`TransportError` that made the round fail.
    """

    def __init__(self, error: CommandError | TransportError, *, transient: bool):
        super().__init__(str(error))
        self.error = error
        self.transient = transient


class ForkServerError(ClustrixError, RuntimeError):
    """The local backend's fork server could not start a call (it died, or could not fork)."""


class RemoteError(ClustrixError):
    """The remote function raised an exception that cannot be rebuilt locally.

    Raised when the exception's class does not exist here or does not unpickle; the remote type
    name, message and full traceback are preserved.
    """

    def __init__(self, type_name: str, message: str, remote_traceback: str):
        super().__init__(f"{type_name}: {message}\n\nRemote traceback:\n{remote_traceback}")
        self.type_name = type_name
        self.remote_message = message
        self.remote_traceback = remote_traceback


class JobError(ClustrixError):
    """A job ended without producing a result.

    Carries the job id, the scheduler's raw state and reason, the exit code and the tail of the
    job's stderr, which is usually where the explanation is.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        state: str | None = None,
        reason: str = "",
        exit_code: int | None = None,
        stderr_tail: str = "",
    ):
        parts = [message]
        if job_id:
            parts.append(f"job {job_id}")
        if state:
            parts.append(f"state {state}" + (f" ({reason})" if reason else ""))
        if exit_code is not None:
            parts.append(f"exit code {exit_code}")
        text = "; ".join(parts)
        if stderr_tail.strip():
            text += "\n--- job stderr (tail) ---\n" + stderr_tail.rstrip()
        super().__init__(text)
        self.job_id = job_id
        self.state = state
        self.reason = reason
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class JobFailedError(JobError):
    """The job exited non-zero (or was killed) before writing a result."""


class JobTimeoutError(JobError):
    """The job ran past its walltime limit; raise ``time=`` or checkpoint."""


class JobOutOfMemoryError(JobError):
    """The job exceeded its memory limit; raise ``memory=``."""


class JobNodeFailError(JobError):
    """A node of the job failed; resubmitting usually works."""


class JobPreemptedError(JobError):
    """The job was preempted by a higher-priority job and not requeued."""


class JobCancelledError(JobError, concurrent.futures.CancelledError):
    """The job was cancelled (by this client, ``scancel``/``qdel``, or an administrator)."""


class JobLostError(JobError):
    """The job vanished from the queue and from accounting and left no exit-code sentinel."""


class JobExitError(JobError):
    """The job's function called ``sys.exit(n)`` (raised ``SystemExit``) instead of returning.

    Re-raising ``SystemExit`` in the caller would end the *caller's* process, silently, with the
    job's exit code; this error carries it instead: ``exit_code`` (``sys.exit()`` and
    ``sys.exit(None)`` are 0, a non-integer argument such as a message is 1, as the interpreter
    would exit), ``exit_arg`` (the original argument), and the job's ``stdout``/``stderr`` and
    ``remote_traceback``. The ``SystemExit`` itself is the ``__cause__``.
    """

    def __init__(self, exit_arg: object = None, *, job_id: str | None = None, stdout: str = "",
                 stderr: str = "", remote_traceback: str = ""):
        code = exit_code_of(exit_arg)
        shown = "" if exit_arg is None else repr(exit_arg)
        super().__init__(
            f"the job's function called sys.exit({shown}) instead of returning a value; return a "
            "value or raise an exception in code that runs as a job",
            job_id=job_id, state="EXIT", exit_code=code, stderr_tail=stderr[-4000:],
        )
        self.exit_arg = exit_arg
        self.stdout = stdout
        self.stderr = stderr
        self.remote_traceback = remote_traceback

    @classmethod
    def from_system_exit(cls, exc: SystemExit, *, job_id: str | None = None, stdout: str = "",
                         stderr: str = "", remote_traceback: str = "") -> JobExitError:
        """The error standing for ``exc`` (chained to it) as a job's outcome."""
        err = cls(exc.code, job_id=job_id, stdout=stdout, stderr=stderr, remote_traceback=remote_traceback)
        err.__cause__ = exc
        return err


def exit_code_of(arg: object) -> int:
    """The process exit status ``sys.exit(arg)`` produces: None -> 0, an int -> itself, else 1."""
    if arg is None:
        return 0
    if isinstance(arg, int) and not isinstance(arg, bool):
        return arg
    return 1
