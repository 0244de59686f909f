"""Job directories on the execution host: creation, upload, result fetch, and the HMAC key.

Per submission one unique directory ``<remote_dir>/<yyyymmdd>-<uuid4 hex>`` (mode 0700) holds
``job.sh``, ``call.pkl`` and later the result, sentinel and logs. Staging is ONE ``put_files``
that creates the directory and writes every file, pipelined over SSH (two round trips however
many files and job directories: :mod:`clustrix.transports.sftp_batch`); the submit command follows.

The HMAC key: one per profile target, kept locally in the user data dir (0600) and remotely at
``<remote_dir>/.clustrix-key`` (0600, outside every job dir, so write access to a job dir is not
enough to forge a result). The remote copy is the source of truth: the first submission of a
process fetches it (one round trip); if it exists, it is used (and cached locally, so a second
laptop with the same profile agrees with the first); if not, the local key (created if needed)
is uploaded together with that submission's files. The remote backend starts that read in the
background as soon as it is created (:meth:`Stager.prefetch_key`), so it overlaps the caller's
own work instead of delaying the first submission.

A key someone else could have planted is never adopted: before reading it, the stager asks the
host who we are (``id -u``) and runs ``lstat`` on the key and its directory (two more round trips, in
the same background read); a key not owned by us, a symbolic link, one with group/other bits,
or a directory others own or can write raises :class:`~clustrix.errors.KeyFileError` naming the
path and the fix (:mod:`clustrix.payload.key_checks`). The job side checks its key the same way.
"""

from __future__ import annotations

import logging
import posixpath
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Protocol

from clustrix.backends.remote.code_shipping import RemotePrep
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError, KeyFileError, PayloadError
from clustrix.paths import key_path
from clustrix.payload.binding import JobBinding
from clustrix.payload.codec import load_payload
from clustrix.payload.key_checks import key_dir_problem, key_file_problem
from clustrix.payload.keys import KEY_BYTES, ensure_key_file, write_key_file
from clustrix.spec import JobPaths
from clustrix.transports.base import FileStat

REMOTE_KEY_NAME = ".clustrix-key"

log = logging.getLogger(__name__)


class StagingTransport(Protocol):
    """The part of :class:`clustrix.transports.Transport` staging needs."""

    def put_files(self, files: Mapping[str, bytes], *, mode: int = 0o600, dirs: Sequence[str] = (),
                  dir_mode: int = 0o700) -> None: ...
    def get_files(self, paths: Sequence[str]) -> dict[str, bytes | None]: ...
    def stat_files(self, paths: Sequence[str]) -> dict[str, FileStat | None]: ...
    def makedirs(self, path: str, mode: int = 0o700) -> None: ...
    def home(self) -> str: ...
    def uid(self) -> int: ...


def key_target(profile: Profile) -> str:
    """What identifies where a profile's remote key lives (part of the local key file name)."""
    return "|".join(str(v) for v in (profile.backend, profile.user, profile.host, profile.port,
                                     profile.remote_dir))


def resolve_remote_dir(remote_dir: str, home: Callable[[], str]) -> str:
    """``remote_dir`` as an absolute path: ``~`` and relative paths are taken from the home dir.

    ``home`` is only called when needed (it may cost a round trip).
    """
    text = remote_dir.strip()
    if any(c in text for c in "\n\r\x00"):
        raise ConfigError(f"remote_dir {remote_dir!r} contains a newline or NUL byte; use a plain path",
                          key="remote_dir")
    if text.startswith("~") and not (text == "~" or text.startswith("~/")):
        raise ConfigError(f"remote_dir {remote_dir!r}: '~user' is not supported; write the absolute "
                          "path or '~/...'", key="remote_dir")
    if text.startswith("/"):
        return posixpath.normpath(text)
    rest = text[1:].lstrip("/") if text.startswith("~") else text
    base = home().rstrip("/") or "/"
    if not base.startswith("/"):
        raise ConfigError(f"the execution host reported home directory {base!r}, not an absolute path; "
                          "set remote_dir to an absolute path", key="remote_dir")
    return posixpath.normpath(posixpath.join(base, rest)) if rest else base


def _decode_key(blob: bytes) -> bytes | None:
    if len(blob) == KEY_BYTES:
        return blob
    try:
        key = bytes.fromhex(blob.strip().decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


class Stager:
    """Stages job directories through one transport for one profile. Thread-safe."""

    def __init__(self, transport: StagingTransport, profile: Profile,
                 *, today: Callable[[], date] = date.today):
        self.transport = transport
        self.profile = profile
        self._today = today
        self._lock = threading.Lock()
        self._remote_dir: str | None = None
        self._key: bytes | None = None
        self._key_uploaded = False
        self.prep = RemotePrep(transport, profile)  # type: ignore[arg-type]  # preflight, local code

    @property
    def remote_dir(self) -> str:
        """The absolute remote job root (``~`` expanded on the execution host, once)."""
        with self._lock:
            if self._remote_dir is None:
                self._remote_dir = resolve_remote_dir(self.profile.remote_dir, self.transport.home)
            return self._remote_dir

    @property
    def remote_key_path(self) -> str:
        return posixpath.join(self.remote_dir, REMOTE_KEY_NAME)

    def key(self) -> bytes:
        """The profile's HMAC key, agreed with the remote copy (one round trip per process)."""
        with self._lock:
            if self._key is not None:
                return self._key
        return self._load_key(self._local_key_path())

    def prefetch_key(self) -> threading.Thread:
        """Start agreeing on the key in a background thread; returns the thread.

        The first submission of a process needs the key before it can sign its payload; reading
        the remote copy is a round trip. Started when the backend is created, it overlaps the
        caller's own work (building arguments, pickling) instead of adding to the first
        submission. A failure is only logged: :meth:`key` tries again and raises it then.
        """
        local_path = self._local_key_path()  # now, with the data dir configured at this moment

        def run() -> None:
            try:
                self._load_key(local_path)
            except Exception:
                log.debug("reading the remote key in the background failed; the first submission "
                          "will retry", exc_info=True)
            self.prep.prefetch()  # the host's Python, asked once per session (see code_shipping)

        thread = threading.Thread(target=run, name="clustrix-key-prefetch", daemon=True)
        thread.start()
        return thread

    def _local_key_path(self) -> str:
        return str(key_path(self.profile.name, key_target(self.profile)))

    def _load_key(self, local_path: str) -> bytes:
        remote_path = self.remote_key_path
        remote_dir = self.remote_dir
        with self._lock:
            if self._key is not None:
                return self._key
            exists = self._check_remote_key(remote_dir, remote_path)
            blob = self.transport.get_files([remote_path]).get(remote_path) if exists else None
            remote_key = _decode_key(blob) if blob is not None else None
            if remote_key is not None:
                # Another client (or an earlier run) set the key: adopt it so its jobs verify.
                write_key_file(local_path, remote_key, overwrite=True)
                self._key, self._key_uploaded = remote_key, True
            else:
                # Missing (or garbage, which we replace): upload ours with the next staging.
                self._key, self._key_uploaded = ensure_key_file(local_path), False
            return self._key

    def _check_remote_key(self, remote_dir: str, remote_path: str) -> bool:
        """Refuse a remote key (or key directory) someone other than us could have written.

        Two round trips, once per stager: ``id -u`` and one ``lstat`` of both paths. A missing
        directory is fine (staging creates it, 0700); a missing key too (we upload ours).
        Returns whether the key exists.
        """
        uid = self.transport.uid()
        stats = self.transport.stat_files([remote_dir, remote_path])
        dir_st, key_st = stats.get(remote_dir), stats.get(remote_path)
        problem = None
        if key_st is not None:
            problem = key_file_problem(remote_path, key_st, uid)
        if problem is None and dir_st is not None:
            problem = key_dir_problem(remote_dir, remote_path, dir_st, uid)
        if problem is not None:
            where = f" on {self.profile.host}" if self.profile.host else ""
            raise KeyFileError(f"refusing the HMAC key{where}: {problem}", path=remote_path)
        return key_st is not None

    def new_job_dir(self) -> str:
        """A fresh, unique job directory path (not created yet)."""
        name = f"{self._today():%Y%m%d}-{uuid.uuid4().hex}"
        return posixpath.join(self.remote_dir, name)

    def stage(self, job_dir: str, files: Mapping[str, bytes | str]) -> None:
        """Create ``job_dir`` (0700) and upload ``files`` (path -> content) in one ``put_files``.

        The remote key travels in the same call the first time it is needed.
        """
        self.stage_many({job_dir: files})

    def stage_many(self, jobs: Mapping[str, Mapping[str, bytes | str]]) -> None:
        """:meth:`stage` for several job directories (job dir -> its files) in one ``put_files``."""
        key = self.key()
        payload: dict[str, bytes] = {}
        for job_dir, files in jobs.items():
            staged: dict[str, bytes] = {}
            for path, data in files.items():
                if posixpath.dirname(path) != job_dir:
                    raise ValueError(f"staged file {path!r} is not directly inside job dir {job_dir!r}")
                staged[path] = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            # Check the host's Python (once) and ship the user's local modules, before any job dir.
            staged.update(self.prep.files_for(job_dir, staged, key, self.remote_dir))
            payload.update(staged)
        with self._lock:
            upload_key = not self._key_uploaded
        if upload_key:
            payload[self.remote_key_path] = key.hex().encode("ascii") + b"\n"
        self.transport.put_files(payload, mode=0o600, dirs=list(jobs), dir_mode=0o700)
        if upload_key:
            with self._lock:
                self._key_uploaded = True

    def staged_binding(self, paths: JobPaths, key: bytes) -> JobBinding:
        """The binding a recorded job was staged with, read back from its signed payload.

        Reattaching (the ledger keeps no nonce) costs this one read.
        """
        blob = self.fetch([paths.payload]).get(paths.payload)
        binding = None if blob is None else load_payload(blob, key).binding
        if binding is None:
            why = "is missing" if blob is None else "is not bound to its job (staged by an older clustrix)"
            raise PayloadError(f"cannot reattach to the job in {paths.job_dir}: its payload {paths.payload} "
                               f"{why}, so its results cannot be told from another job's")
        return binding

    def fetch(self, paths: Sequence[str]) -> dict[str, bytes | None]:
        """Read remote files in one call; None for files that do not exist."""
        return self.transport.get_files(list(paths))
