"""What every transport offers: run an argv, move whole files, make directories.

A transport is the only I/O the scheduler layer sees. ``run`` never raises for a non-zero exit
status (that is the caller's business, see :meth:`Completed.check`); it raises
:class:`~clustrix.errors.TransportError` subclasses when the command could not be run or waited
for: the host is unreachable, the connection dropped, the command timed out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from clustrix.errors import CommandError

__all__ = ["Completed", "FileStat", "Transport", "decode_output", "validate_argv"]

#: Default mode of staged files (payloads, keys) and job directories.
FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True)
class Completed:
    """A finished command: its argv, exit status and decoded output.

    ``host`` is None for a local command, else the name used in error messages.
    """

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    host: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "argv", tuple(self.argv))

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self, hint: str = "", *, error: type[CommandError] = CommandError) -> Completed:
        """Return self when the exit status is 0, else raise ``error`` (a CommandError) with the
        command, status, output, host and ``hint`` (what the user can do about it)."""
        if self.returncode != 0:
            raise error(self.argv, self.returncode, self.stdout, self.stderr, host=self.host,
                        hint=hint)
        return self


@dataclass(frozen=True)
class FileStat:
    """What ``lstat`` says about a path: its mode (type and permission bits) and owner uid."""

    st_mode: int
    st_uid: int


@runtime_checkable
class Transport(Protocol):
    """Runs commands and moves files on one host (this machine, or one reached over SSH)."""

    #: None for this machine, else the host name errors should mention.
    host: str | None

    def run(self, argv: Sequence[str], *, stdin: bytes | str | None = None,
            timeout_s: float | None = None, retry_safe: bool = False) -> Completed:
        """Run ``argv`` (no shell: every element is one argument) and wait for it.

        ``stdin`` is fed to the command then closed; without it the command reads EOF.
        ``timeout_s`` (None = the transport's default) bounds the wait; on expiry the command is
        killed and :class:`~clustrix.errors.CommandTimeoutError` raised. ``retry_safe`` says the
        command may run twice (a status query, not a submission): a transport that loses its
        connection mid-command re-runs it after reconnecting instead of raising.
        """
        ...

    def put_files(self, files: Mapping[str, bytes], *, mode: int = FILE_MODE, dirs: Sequence[str] = (),
                  dir_mode: int = DIR_MODE) -> None:
        """Write each ``{path: content}`` atomically (temporary name + rename) with ``mode``.

        ``dirs`` are created first (with missing parents, as :meth:`makedirs`), each ending with
        exactly ``dir_mode`` (an existing one too); other parent directories must exist. Over
        SSH the directories and every file travel pipelined: two round trips in all.
        """
        ...

    def get_files(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        """Read whole files; a missing file maps to None rather than raising."""
        ...

    def stat_files(self, paths: Iterable[str]) -> dict[str, FileStat | None]:
        """``lstat`` each path in one round trip: a symbolic link is reported as one, not
        followed; a missing path maps to None."""
        ...

    def uid(self) -> int:
        """The numeric user id this transport's commands and files run as on the host
        (``id -u`` there; asked once per transport)."""
        ...

    def listdir(self, path: str) -> list[str] | None:
        """The names in directory ``path`` (one round trip); None when it does not exist."""
        ...

    def makedirs(self, path: str, mode: int = DIR_MODE) -> None:
        """``mkdir -p``: create ``path`` and missing parents; directories it creates get exactly
        ``mode`` whatever the umask. Existing directories are left as they are."""
        ...

    def home(self) -> str:
        """The absolute home directory of the user on the host."""
        ...

    def expand_path(self, path: str) -> str:
        """``~`` and ``~/x`` become absolute paths under :meth:`home`; other paths are unchanged."""
        ...

    def close(self) -> None:
        """Release the transport (a pooled SSH connection closes when its last user releases it)."""
        ...


def check_timeout(value: object, what: str = "command_timeout_s") -> float:
    """A positive, finite number of seconds; anything else (None included) is refused.

    Every wait has a deadline: a command that never ends must not hang its caller.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ValueError(f"{what} must be a positive, finite number of seconds, got {value!r}; "
                         "every command needs a deadline (raise it for legitimately slow commands)")
    return float(value)


def validate_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Check ``argv`` is a non-empty sequence of strings without NUL bytes; return it as a tuple.

    A bare string is refused: iterating it would run each character as an argument.
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError(f"argv must be a list of arguments, not a single string: {argv!r}; "
                        "use shlex.split() if you really have a command line")
    items = tuple(argv)
    if not items:
        raise ValueError("argv is empty: nothing to run")
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"argv elements must be str, got {type(item).__name__} {item!r} in {items!r}")
        if "\0" in item:
            raise ValueError(f"argv element {item!r} contains a NUL byte, which no command line can carry")
    return items


def decode_output(data: bytes) -> str:
    """Decode command output as UTF-8; undecodable bytes become U+FFFD rather than an error."""
    return data.decode("utf-8", errors="replace")


def expand_home(path: str, home: str) -> str:
    """``~`` / ``~/rest`` against ``home``; ``~user`` forms are refused (ambiguous over SSH)."""
    if path == "~":
        return home
    if path.startswith("~/"):
        return home.rstrip("/") + "/" + path[2:]
    if path.startswith("~"):
        raise ValueError(f"cannot expand {path!r}: only '~' and '~/...' (the login user's home) "
                         "are supported; give an absolute path")
    return path
