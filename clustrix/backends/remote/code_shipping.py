"""Before a job is staged: check the host's Python (once), and ship the user's local modules.

:class:`RemotePrep` is called by :meth:`clustrix.backends.remote.staging.Stager.stage` with the
job's files. From the payload's recorded needs (:mod:`clustrix.payload.pickle_refs`) it

1. finds the user's own modules among them (:mod:`clustrix.payload.local_code`; all of them
   unless the profile says ``ship_local_code: false``, plus ``ship_modules``), and zips each
   (:mod:`clustrix.payload.code_archive`, cached while the files are unchanged);
2. checks, once per session and (host, python), that the profile's Python can load the payload
   (:mod:`clustrix.payload.compat`): a mismatch raises
   :class:`~clustrix.errors.PreflightError` here, before anything is submitted;
3. makes sure each archive is unpacked under ``<remote_dir>/.clustrix-code/`` on the host:
   one ``lstat`` round trip for the versions this process has not confirmed yet, then one
   command for all missing ones (the archives travel on its stdin and unpack atomically);
4. returns the signed ``code.paths`` for the job directory, which the runner reads
   (:mod:`clustrix.payload.code_paths`).

A payload needing nothing local costs step 2 only, once per session. Files that are not a
payload made by this client (none named ``call.pkl``, or another format) are left alone.
"""

from __future__ import annotations

import logging
import posixpath
import threading
from collections.abc import Mapping

from clustrix.config.profile import Profile
from clustrix.errors import PreflightError
from clustrix.payload.code_archive import EXTRACT_SCRIPT, CodeArchive, build_archives, extract_args
from clustrix.payload.code_paths import CODE_FILE, CODE_ROOT, relative_code_dir, seal_code_paths
from clustrix.payload.compat import (
    Needs,
    ProbeTransport,
    check_remote_python,
    probe_command,
    remote_python,
)
from clustrix.payload.local_code import local_modules
from clustrix.payload.pickle_refs import PickleRefs, refs_of_payload
from clustrix.transports.base import Transport

PAYLOAD_NAME = "call.pkl"
log = logging.getLogger(__name__)

# Code versions known to be unpacked on a host, for the whole process: (host, remote_dir, dir name).
_present: set[tuple[str | None, str, str]] = set()
_present_lock = threading.Lock()
_target_locks: dict[tuple[str | None, str], threading.Lock] = {}


def needs_of(refs: PickleRefs, *, ships_code: bool) -> Needs:
    """What a payload with ``refs`` needs from the host's Python."""
    uses_cloudpickle = refs.by_value or any(m.partition(".")[0] == "cloudpickle" for m in refs.modules)
    return Needs(by_value=uses_cloudpickle, ships_code=ships_code)


class RemotePrep:
    """The staging hook for one transport and profile (see the module docstring). Thread-safe."""

    def __init__(self, transport: Transport, profile: Profile):
        self.transport = transport
        self.profile = profile
        env = profile.environment
        self.job_python = env.base_python(profile.python) if env is not None else profile.python
        """The interpreter jobs run, which the preflight checks."""
        self.job_setup: tuple[str, ...] = env.prelude() if env is not None else ()
        """The environment's lines (module load, conda activate) run before the profile's setup."""
        # A venv built on the cluster is not there yet: the backend names it once made ready.
        self._awaits_venv = env is not None and env.builds_venv

    def use_interpreter(self, python: str, setup: tuple[str, ...]) -> None:
        """Check ``python`` after ``setup`` from now on: what the job environment made ready runs jobs."""
        self.job_python, self.job_setup, self._awaits_venv = python, tuple(setup), False

    def prefetch(self) -> None:
        """Ask the host's Python now (the backend's background start-up read; see staging).

        Only fills the session's cache: the verdict, which depends on the payload, is given at
        the first :meth:`files_for`. A failure is left for that call to raise.
        """
        p = self.profile
        if self._awaits_venv:
            return  # its base interpreter is not what jobs run; the first submission asks the venv's
        try:
            remote_python(self.transport, self.job_python, env=p.env, setup=(*self.job_setup, *p.setup),
                          timeout_s=p.command_timeout_s)
        except Exception:  # noqa: BLE001 - re-raised by the first submission's own check
            log.debug("preflight prefetch failed; the first submission retries it", exc_info=True)

    def archives_for(self, refs: PickleRefs) -> list[CodeArchive]:
        """The archives a payload with ``refs`` ships under this profile's settings."""
        found = refs.modules if self.profile.ship_local_code else ()
        modules = local_modules(found, always=self.profile.ship_modules)
        return build_archives(modules) if modules else []

    def files_for(self, job_dir: str, files: Mapping[str, bytes], key: bytes, remote_dir: str) -> dict[str, bytes]:
        """Check and ship what the payload among ``files`` needs; the extra files for the job dir."""
        payload = files.get(posixpath.join(job_dir, PAYLOAD_NAME))
        refs = refs_of_payload(payload) if payload is not None else None
        if refs is None:
            return {}
        archives = self.archives_for(refs)
        p = self.profile
        check_remote_python(self.transport, self.job_python, needs=needs_of(refs, ships_code=bool(archives)),
                            env=p.env, setup=(*self.job_setup, *p.setup), timeout_s=p.command_timeout_s)
        if not archives:
            return {}
        self.ensure_unpacked(archives, remote_dir)
        relative = [relative_code_dir(a.dir_name) for a in archives]
        return {posixpath.join(job_dir, CODE_FILE): seal_code_paths(relative, job_dir, key)}

    def ensure_unpacked(self, archives: list[CodeArchive], remote_dir: str) -> None:
        """Unpack every archive the host does not have yet under ``remote_dir/.clustrix-code``.

        Threads submitting the same new code at once wait for one upload (one lock per
        host and remote dir); other processes are covered by the atomic unpacking.
        """
        host = self.transport.host
        targets = {a.dir_name: posixpath.join(remote_dir, CODE_ROOT, a.dir_name) for a in archives}

        def unknown() -> list[CodeArchive]:
            with _present_lock:
                return [a for a in archives if (host, remote_dir, a.dir_name) not in _present]

        if not unknown():
            return
        with _present_lock:
            target_lock = _target_locks.setdefault((host, remote_dir), threading.Lock())
        with target_lock:  # bounded: every command below has the profile's deadline
            missing = unknown()
            if not missing:
                return
            stats = self.transport.stat_files([targets[a.dir_name] for a in missing])
            absent = [(targets[a.dir_name], a) for a in missing if stats.get(targets[a.dir_name]) is None]
            if absent:
                self._unpack(absent)
            with _present_lock:
                _present.update((host, remote_dir, a.dir_name) for a in missing)

    def _unpack(self, absent: list[tuple[str, CodeArchive]]) -> None:
        """One command unpacking every ``(target, archive)`` (they travel on its stdin)."""
        p = self.profile
        args, data = extract_args(absent)
        argv = probe_command(self.job_python, env=p.env, setup=(*self.job_setup, *p.setup), script=EXTRACT_SCRIPT, args=args)
        transport: ProbeTransport = self.transport
        done = transport.run(argv, stdin=data, timeout_s=p.command_timeout_s)
        if getattr(done, "returncode", 1) != 0:
            where = f"{self.job_python} on {self.transport.host or 'this machine'}"
            shipped = ", ".join(f"{a.module} ({a.size_bytes / 1048576:.1f} MB, {a.n_files} files)" for _t, a in absent)
            raise PreflightError(
                f"shipping {shipped} to {posixpath.dirname(absent[0][0])} with {where} failed (exit status "
                f"{getattr(done, 'returncode', '?')}): {(getattr(done, 'stderr', '') or '').strip()[-600:]}. "
                "Fix: check that remote_dir is writable there, or install the modules on the cluster and "
                "set ship_local_code: false")
