"""The SFTP steps of the SSH transport: write a file atomically, read one, make directories.

Each maps paramiko's errors to clustrix's :class:`~clustrix.errors.TransportError` tree, naming the
host and the path.
"""

from __future__ import annotations

import os
import posixpath
import stat

import paramiko

from clustrix.errors import TransportError
from clustrix.transports.base import FileStat


def put_one(sftp: paramiko.SFTPClient, target: str, data: bytes, mode: int, host: str | None) -> None:
    directory, name = posixpath.split(target)
    tmp = posixpath.join(directory, f".{name}.tmp-{os.urandom(6).hex()}")
    try:
        with sftp.open(tmp, "wbx") as handle:  # x: never follow or reuse an existing name
            handle.chmod(mode)  # before the content: never readable with a looser mode
            handle.set_pipelined(True)
            handle.write(data)
        sftp.posix_rename(tmp, target)
    except BaseException:
        try:
            sftp.remove(tmp)
        except Exception:  # best effort: the tmp may not exist, or the link may be gone
            pass
        raise


def get_one(sftp: paramiko.SFTPClient, path: str, host: str | None) -> bytes | None:
    try:
        with sftp.open(path, "rb") as handle:
            size = handle.stat().st_size
            if size:
                handle.prefetch(size)  # pipelined reads instead of one round trip per 32 KB
            return handle.read()
    except FileNotFoundError:
        return None


def lstat(sftp: paramiko.SFTPClient, path: str) -> FileStat | None:
    try:
        attrs = sftp.lstat(path)
    except FileNotFoundError:
        return None
    if attrs.st_mode is None or attrs.st_uid is None:  # the server left them out: cannot judge
        raise TransportError(f"the SFTP server did not report the mode and owner of {path!r}")
    return FileStat(attrs.st_mode, attrs.st_uid)


def makedirs(sftp: paramiko.SFTPClient, path: str, mode: int, host: str | None) -> None:
    try:
        sftp.mkdir(path, mode)
    except FileNotFoundError:
        parent = posixpath.dirname(path)
        if parent in (path, ""):
            raise
        makedirs(sftp, parent, mode, host)
        try:
            sftp.mkdir(path, mode)
        except OSError:
            require_dir(sftp, path, host)
            return
    except OSError:
        require_dir(sftp, path, host)  # SFTP v3 reports "exists" as a generic failure
        return
    sftp.chmod(path, mode)  # mkdir's mode went through the server's umask


def require_dir(sftp: paramiko.SFTPClient, path: str, host: str | None) -> None:
    try:
        st = sftp.stat(path)
    except OSError as exc:
        raise TransportError(f"cannot create directory {path!r}: {exc}", host=host, cause=exc) from exc
    if not stat.S_ISDIR(st.st_mode or 0):
        raise TransportError(f"cannot create directory {path!r}: a file of that name exists",
                             host=host)
