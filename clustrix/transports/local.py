"""LocalTransport: the Transport protocol on this machine (a login node, or tests).

Commands run as subprocesses in their own process group, so a timeout kills the whole tree and
not just the first process. Files are written to a temporary name in the same directory and
renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence

from clustrix.errors import CommandTimeoutError, TransportError
from clustrix.transports.base import (
    DIR_MODE,
    FILE_MODE,
    Completed,
    FileStat,
    check_timeout,
    decode_output,
    expand_home,
    validate_argv,
)

__all__ = ["LocalTransport"]

#: How long to wait for a killed process group's pipes to close before giving up on its output.
REAP_TIMEOUT_S = 5.0


class LocalTransport:
    """Run commands and move files on this machine.

    ``command_timeout_s`` is the default deadline of :meth:`run` (positive; there is no "wait forever").
    """

    host: str | None = None

    def __init__(self, command_timeout_s: float = 60.0):
        self.command_timeout_s = check_timeout(command_timeout_s)

    def __repr__(self) -> str:
        return "LocalTransport()"

    def run(self, argv: Sequence[str], *, stdin: bytes | str | None = None,
            timeout_s: float | None = None, retry_safe: bool = False) -> Completed:
        # retry_safe is accepted for the Transport protocol; a local process has no connection
        # to lose, so there is nothing to retry.
        args = validate_argv(argv)
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        timeout = self.command_timeout_s if timeout_s is None else check_timeout(timeout_s, "timeout_s")
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except FileNotFoundError:
            # the same answer a shell (and therefore the SSH transport) gives
            return Completed(args, 127, "", f"{args[0]}: command not found\n")
        except PermissionError as exc:
            return Completed(args, 126, "", f"{args[0]}: {exc.strerror}\n")
        except OSError as exc:
            raise TransportError(f"cannot start {args[0]!r}: {exc}", host="localhost", cause=exc) from exc
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            try:
                proc.communicate(timeout=REAP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass  # a grandchild left the group and holds the pipes; do not wait for it
            raise CommandTimeoutError(
                f"command {' '.join(args)!r} did not finish within {timeout:g} s and was killed; "
                "raise command_timeout_s if it is legitimately slow", host="localhost",
                cause=exc) from None
        except BaseException:
            _kill_group(proc)  # KeyboardInterrupt: do not leave the command behind
            try:
                proc.wait(timeout=REAP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass  # unkillable (uninterruptible sleep): the interrupt matters more
            raise
        return Completed(args, proc.returncode, decode_output(out), decode_output(err))

    def put_files(self, files: Mapping[str, bytes], *, mode: int = FILE_MODE, dirs: Sequence[str] = (),
                  dir_mode: int = DIR_MODE) -> None:
        for directory in dirs:
            LocalTransport.makedirs(self, directory, dir_mode)  # part of this call, not a call of its own
            try:
                os.chmod(self.expand_path(directory), dir_mode)  # as over SSH: exactly dir_mode
            except OSError as exc:
                raise _file_error("create directory", directory, exc) from exc
        for path, content in files.items():
            target = self.expand_path(path)
            directory, name = os.path.split(target)
            tmp = os.path.join(directory, f".{name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
            except OSError as exc:
                raise _file_error("write", target, exc) from exc
            try:
                os.fchmod(fd, mode)  # os.open's mode went through the umask
                with os.fdopen(fd, "wb") as handle:
                    fd = -1
                    handle.write(content)
                os.replace(tmp, target)
            except OSError as exc:
                if fd >= 0:
                    os.close(fd)
                _unlink_quietly(tmp)
                raise _file_error("write", target, exc) from exc
            except BaseException:
                _unlink_quietly(tmp)
                raise

    def get_files(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        for path in paths:
            try:
                with open(self.expand_path(path), "rb") as handle:
                    out[path] = handle.read()
            except FileNotFoundError:
                out[path] = None
            except OSError as exc:
                raise _file_error("read", path, exc) from exc
        return out

    def stat_files(self, paths: Iterable[str]) -> dict[str, FileStat | None]:
        out: dict[str, FileStat | None] = {}
        for path in paths:
            try:
                st = os.lstat(self.expand_path(path))
            except FileNotFoundError:
                out[path] = None
            except OSError as exc:
                raise _file_error("stat", path, exc) from exc
            else:
                out[path] = FileStat(st.st_mode, st.st_uid)
        return out

    def uid(self) -> int:
        return os.geteuid()

    def listdir(self, path: str) -> list[str] | None:
        try:
            return os.listdir(self.expand_path(path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _file_error("list", path, exc) from exc

    def makedirs(self, path: str, mode: int = DIR_MODE) -> None:
        target = os.path.abspath(self.expand_path(path))
        missing = []
        current = target
        while not os.path.isdir(current):
            missing.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for directory in reversed(missing):
            try:
                os.mkdir(directory, mode)
            except FileExistsError:
                if not os.path.isdir(directory):
                    raise _file_error("create directory", directory,
                                      OSError(errno.ENOTDIR, "exists and is not a directory")) from None
                continue  # created concurrently by someone else: leave its mode alone
            except OSError as exc:
                raise _file_error("create directory", directory, exc) from exc
            os.chmod(directory, mode)  # mkdir's mode went through the umask

    def home(self) -> str:
        return os.path.expanduser("~")

    def expand_path(self, path: str) -> str:
        return expand_home(path, self.home()) if path.startswith("~") else path

    def close(self) -> None:
        """Nothing to release."""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _file_error(action: str, path: str, exc: OSError) -> TransportError:
    return TransportError(f"cannot {action} {path!r}: {exc.strerror or exc}", host="localhost", cause=exc)
