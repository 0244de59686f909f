"""Whether a key file can be trusted: who owns it and its directory, and who may write either.

An HMAC key authenticates results before they are unpickled, so whoever can *plant* the key
can forge a result and run code on the client. A key is therefore trusted only when:

- it is a regular file (not a symbolic link, which could point anywhere);
- it is owned by the user reading it (the uid ``id -u`` prints on that host);
- its mode has no group or other bits (``0600``): nobody else may read or change it;
- the directory holding it is owned by that user and writable by nobody else — whoever can
  write the directory can replace the file, whatever the file's own mode (a sticky bit does not
  help either: it lets others create the key before we do).

The rules are pure functions over ``(st_mode, st_uid)`` facts, so the same code judges a local
file (``os.lstat``), a remote one (SFTP ``lstat``) and the job side's own key (the runner);
each problem is reported with the path and the command that fixes it. Standard library only:
the runner imports this on its success path.
"""

from __future__ import annotations

import stat

TYPE_CHECKING = False  # not ``from typing import ...``: typing costs ~5 ms per job start
if TYPE_CHECKING:
    from typing import Protocol

    class StatLike(Protocol):
        """What ``os.stat_result`` and paramiko's ``SFTPAttributes`` both have."""

        st_mode: int | None
        st_uid: int | None


def key_file_problem(path: str, st: StatLike, uid: int) -> str | None:
    """Why the key file at ``path`` (its ``lstat``) cannot be trusted by ``uid``, or None."""
    mode = st.st_mode or 0
    if stat.S_ISLNK(mode):
        return (f"key file {path} is a symbolic link, which could point at a key someone else "
                f"controls; replace it with the file itself (rm {path}; clustrix writes a new key)")
    if not stat.S_ISREG(mode):
        return f"key file {path} is not a regular file; remove it (clustrix writes a new key)"
    if st.st_uid != uid:
        return (f"key file {path} is owned by uid {st.st_uid}, not by you (uid {uid}), so someone else "
                f"may have planted it; if you did not create it, remove it (rm {path}) and let "
                f"clustrix write a new one; if it is yours, run: chown {uid} {path}")
    if mode & 0o077:
        return (f"key file {path} has mode {stat.S_IMODE(mode):04o}, so other users may read or change "
                f"it; run: chmod 600 {path}")
    return None


def key_dir_problem(directory: str, key_path: str, st: StatLike, uid: int) -> str | None:
    """Why the directory holding a key (its ``stat``) lets others replace it, or None."""
    mode = st.st_mode or 0
    if not stat.S_ISDIR(mode):
        return f"{directory}, which should hold key file {key_path}, is not a directory"
    if st.st_uid != uid:
        return (f"the directory {directory} holding key file {key_path} is owned by uid {st.st_uid}, not "
                f"by you (uid {uid}), so its owner can replace the key; use a directory you own "
                f"(set remote_dir to one) or run: chown {uid} {directory}")
    if mode & 0o022:
        return (f"the directory {directory} holding key file {key_path} has mode "
                f"{stat.S_IMODE(mode):04o}: group or others can write it and so replace the key "
                f"(a sticky bit does not stop them creating it first); run: chmod go-w {directory}")
    return None
