"""The SFTP subsystem of the simulator's SSH server: the real filesystem, as OpenSSH serves it.

Paths are real filesystem paths: absolute ones are used as they are, relative ones are resolved
against the login user's home directory (OpenSSH's ``sftp-server`` runs in the home directory).
There is no chroot: the simulated login node is this machine, and the server only listens on
loopback for a single user whose key the test created.

OS errors become SFTP version 3 status codes: ENOENT/ENOTDIR -> NO_SUCH_FILE, EACCES/EPERM ->
PERMISSION_DENIED, everything else -> FAILURE (v3 has no finer codes; OpenSSH does the same).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

import paramiko
from paramiko.sftp import (
    SFTP_FAILURE,
    SFTP_NO_SUCH_FILE,
    SFTP_OK,
    SFTP_PERMISSION_DENIED,
)

log = logging.getLogger("clustrix_sim.ssh.sftp")

T = TypeVar("T")


def errno_to_sftp(err: int | None) -> int:
    """Map an ``errno`` value to the SFTP v3 status code a client can act on."""
    import errno as _errno

    if err in (_errno.ENOENT, _errno.ENOTDIR):
        return SFTP_NO_SUCH_FILE
    if err in (_errno.EACCES, _errno.EPERM, _errno.EROFS):
        return SFTP_PERMISSION_DENIED
    return SFTP_FAILURE


def _guard(action: Callable[[], T]) -> T | int:
    """Run ``action``; an OSError becomes the matching SFTP status code."""
    try:
        return action()
    except OSError as exc:
        log.debug("sftp operation failed: %s", exc)
        return errno_to_sftp(exc.errno)


def _apply_attr(path: str | None, fd: int | None, attr: paramiko.SFTPAttributes) -> None:
    """Apply the attributes a client sent (mode, owner, times, size) to a path or open fd."""
    flags = attr._flags  # paramiko exposes which fields are present only through _flags
    if flags & attr.FLAG_PERMISSIONS and attr.st_mode is not None:
        mode = attr.st_mode & 0o7777
        os.fchmod(fd, mode) if fd is not None else os.chmod(path, mode)  # type: ignore[arg-type]
    if flags & attr.FLAG_UIDGID:
        os.fchown(fd, attr.st_uid, attr.st_gid) if fd is not None else os.chown(
            path, attr.st_uid, attr.st_gid)  # type: ignore[arg-type]
    if flags & attr.FLAG_AMTIME:
        times = (attr.st_atime, attr.st_mtime)
        os.utime(fd if fd is not None else path, times)  # type: ignore[arg-type]
    if flags & attr.FLAG_SIZE:
        os.truncate(fd if fd is not None else path, attr.st_size)  # type: ignore[arg-type]


class SimSFTPHandle(paramiko.SFTPHandle):
    """An open file. paramiko's base class reads and writes through ``readfile``/``writefile``."""

    def __init__(self, flags: int, fd: int, path: str):
        super().__init__(flags)
        self.fd = fd
        self.path = path
        access = flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
        mode = {os.O_RDONLY: "rb", os.O_WRONLY: "wb", os.O_RDWR: "r+b"}[access]
        if flags & os.O_APPEND:
            mode = "ab" if access == os.O_WRONLY else "a+b"
        handle = os.fdopen(fd, mode)
        if access in (os.O_RDONLY, os.O_RDWR):
            self.readfile = handle
        if access in (os.O_WRONLY, os.O_RDWR):
            self.writefile = handle

    def close(self) -> None:
        # readfile and writefile may be the same object; close it once
        handle = getattr(self, "writefile", None) or getattr(self, "readfile", None)
        if handle is not None:
            handle.close()

    def stat(self) -> paramiko.SFTPAttributes | int:
        return _guard(lambda: paramiko.SFTPAttributes.from_stat(os.fstat(self.fd)))

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        return _guard(lambda: (_apply_attr(None, self.fd, attr), SFTP_OK)[1])


class SimSFTPServer(paramiko.SFTPServerInterface):
    """paramiko SFTP server interface over the real filesystem; relative paths from ``home``."""

    def __init__(self, server: Any, home: str, on_read: Callable[[str], None] | None = None,
                 *args: Any, **kwargs: Any):
        super().__init__(server, *args, **kwargs)
        self.home = os.path.abspath(home)
        self.on_read = on_read  # called with the real path before a file is opened for reading

    def _path(self, path: str) -> str:
        return os.path.join(self.home, path) if not os.path.isabs(path) else path

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> SimSFTPHandle | int:
        real = self._path(path)
        mode = 0o666
        if attr._flags & attr.FLAG_PERMISSIONS and attr.st_mode is not None:
            mode = attr.st_mode & 0o7777

        def do_open() -> SimSFTPHandle:
            if self.on_read is not None and not flags & (os.O_WRONLY | os.O_RDWR):
                self.on_read(real)  # fault injection (a corrupted result) sees every read
            fd = os.open(real, flags | getattr(os, "O_CLOEXEC", 0), mode)
            try:
                return SimSFTPHandle(flags, fd, real)
            except BaseException:
                os.close(fd)
                raise

        return _guard(do_open)

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        real = self._path(path)

        def listing() -> list[paramiko.SFTPAttributes]:
            out = []
            for name in os.listdir(real):
                try:
                    st = os.lstat(os.path.join(real, name))
                except FileNotFoundError:
                    continue  # removed while listing
                out.append(paramiko.SFTPAttributes.from_stat(st, name))
            return out

        return _guard(listing)

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        return _guard(lambda: paramiko.SFTPAttributes.from_stat(os.stat(self._path(path))))

    def lstat(self, path: str) -> paramiko.SFTPAttributes | int:
        return _guard(lambda: paramiko.SFTPAttributes.from_stat(os.lstat(self._path(path))))

    def remove(self, path: str) -> int:
        return _guard(lambda: (os.remove(self._path(path)), SFTP_OK)[1])

    def rename(self, oldpath: str, newpath: str) -> int:
        # SFTP v3 rename must fail when the target exists (OpenSSH uses link()+unlink())
        old, new = self._path(oldpath), self._path(newpath)

        def do_rename() -> int:
            if os.path.lexists(new):
                return SFTP_FAILURE
            os.rename(old, new)
            return SFTP_OK

        return _guard(do_rename)

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        return _guard(lambda: (os.replace(self._path(oldpath), self._path(newpath)), SFTP_OK)[1])

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        mode = 0o777
        if attr._flags & attr.FLAG_PERMISSIONS and attr.st_mode is not None:
            mode = attr.st_mode & 0o7777
        return _guard(lambda: (os.mkdir(self._path(path), mode), SFTP_OK)[1])

    def rmdir(self, path: str) -> int:
        return _guard(lambda: (os.rmdir(self._path(path)), SFTP_OK)[1])

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        return _guard(lambda: (_apply_attr(self._path(path), None, attr), SFTP_OK)[1])

    def canonicalize(self, path: str) -> str:
        # realpath like OpenSSH; "." is the home directory
        return os.path.realpath(self._path(path or "."))

    def readlink(self, path: str) -> str | int:
        return _guard(lambda: os.readlink(self._path(path)))

    def symlink(self, target_path: str, path: str) -> int:
        # the target is stored as given (a relative target stays relative to the link)
        return _guard(lambda: (os.symlink(target_path, self._path(path)), SFTP_OK)[1])
