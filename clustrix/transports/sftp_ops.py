"""The one-request-at-a-time SFTP steps of the SSH transport: make directories step by step.

Reads, writes and stats are pipelined in :mod:`clustrix.transports.sftp_batch`; creating a
missing chain of parents (the first job under a new ``remote_dir``) is done here.

Each maps paramiko's errors to clustrix's :class:`~clustrix.errors.TransportError` tree, naming the
host and the path.
"""

from __future__ import annotations

import posixpath
import stat

import paramiko

from clustrix.errors import TransportError


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
