"""The user's local modules as content-addressed zip archives, and the script that unpacks one remotely.

One archive per top-level module or package (:class:`~clustrix.payload.local_code.LocalModule`),
so editing ``helpers.py`` re-ships ``helpers`` alone, not ``mylab`` too. An archive is
deterministic (sorted entries, fixed timestamps and modes): its SHA-256 names it, so a cluster
keeps one copy per version, a job pending in the queue still finds the code it was submitted
with after the user edits theirs, and two clients shipping the same code agree.

What goes in: every file of the package, data files included (``mylab/data/table.csv`` opened
through ``__file__`` works in the job). What stays out: ``__pycache__`` and ``*.pyc``, and every
file or directory whose name starts with a dot (``.git``, ``.venv``, ``.env`` files with secrets,
``.ipynb_checkpoints``...), virtual environments (``venv/``, ``env/`` holding ``pyvenv.cfg``), and
``node_modules``/``*.egg-info``. Symbolic links to directories are not followed (loops, and
trees outside the package). Archives above :data:`MAX_CODE_MB` (all of a payload's, together)
are refused with :class:`~clustrix.errors.PreflightError` naming the largest files and the fixes.

Built archives are cached per process, keyed by every file's path, size and modification
time, so a submission costs one directory walk when nothing changed.

:data:`EXTRACT_SCRIPT` runs on the execution host (any Python 3, standard library only): it reads
the archive on stdin, checks its SHA-256, unpacks it into a private temporary directory and
renames that into place, so concurrent submitters and jobs never see half an archive. Several
archives travel in one command.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import zipfile
from dataclasses import dataclass

from clustrix.errors import PreflightError
from clustrix.payload.local_code import LocalModule

MAX_CODE_MB = 64
"""Refuse to ship more local code than this per submission (uncompressed, all modules)."""
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "venv", "env"})
_SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".dist-info")


@dataclass(frozen=True)
class CodeArchive:
    """One top-level module's files, zipped; ``dir_name`` is where it unpacks on the cluster."""

    module: str
    sha256: str
    data: bytes
    n_files: int
    size_bytes: int
    """The files' total size before compression."""
    largest: tuple[tuple[str, int], ...]
    """The three largest files (archive name, bytes), for the size-limit message."""

    @property
    def dir_name(self) -> str:
        return f"{self.module}-{self.sha256[:24]}"


def _skip_dir(name: str, path: str) -> bool:
    if name.startswith(".") or name in ("__pycache__", "node_modules") or name.endswith(_SKIP_SUFFIXES):
        return True
    if name in _SKIP_DIRS and os.path.exists(os.path.join(path, "pyvenv.cfg")):
        return True  # a virtual environment inside the project
    return os.path.islink(path)


def _skip_file(name: str) -> bool:
    return name.startswith(".") or name.endswith(_SKIP_SUFFIXES)


def archive_files(module: LocalModule) -> list[tuple[str, str, os.stat_result]]:
    """``(archive name, file path, stat)`` of every file to ship for ``module``, sorted."""
    out: list[tuple[str, str, os.stat_result]] = []
    for path in module.paths:
        base = os.path.dirname(path)
        if not module.is_package:
            out.append((os.path.basename(path), path, os.stat(path)))
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not _skip_dir(d, os.path.join(dirpath, d)))
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if _skip_file(name):
                    continue
                try:
                    st = os.stat(full)  # follows a link to a file; its target's bytes are shipped
                except OSError:
                    continue  # a dangling link
                if stat.S_ISREG(st.st_mode):
                    out.append((os.path.relpath(full, base).replace(os.sep, "/"), full, st))
    out.sort(key=lambda item: item[0])
    return out


def _build(module: LocalModule, files: list[tuple[str, str, os.stat_result]]) -> CodeArchive:
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for arcname, full, _st in files:
            with open(full, "rb") as fh:
                data = fh.read()
            total += len(data)
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
            info.external_attr = 0o600 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    blob = buffer.getvalue()
    largest = tuple(sorted(((a, st.st_size) for a, _f, st in files), key=lambda x: -x[1])[:3])
    return CodeArchive(module.name, hashlib.sha256(blob).hexdigest(), blob, len(files), total, largest)


_cache: dict[tuple[object, ...], CodeArchive] = {}
_cache_lock = threading.Lock()


def build_archive(module: LocalModule) -> CodeArchive:
    """The archive of ``module`` (rebuilt only when a file was added, removed or changed)."""
    files = archive_files(module)
    key = (module, tuple((a, st.st_size, st.st_mtime_ns, st.st_ino) for a, _f, st in files))
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    built = _build(module, files)
    with _cache_lock:
        if len(_cache) > 64:  # old versions of edited modules
            _cache.clear()
        _cache[key] = built
    return built


def build_archives(modules: list[LocalModule], *, max_mb: float = MAX_CODE_MB) -> list[CodeArchive]:
    """Archives for ``modules``; :class:`PreflightError` if together they exceed ``max_mb``."""
    archives = [build_archive(m) for m in modules]
    total = sum(a.size_bytes for a in archives)
    if total > max_mb * 1024 * 1024:
        biggest = sorted((f for a in archives for f in a.largest), key=lambda x: -x[1])[:3]
        listed = ", ".join(f"{name} ({size / 1048576:.1f} MB)" for name, size in biggest)
        names = ", ".join(f"{a.module} ({a.size_bytes / 1048576:.1f} MB)" for a in archives)
        raise PreflightError(
            f"the local code to ship with this job is {total / 1048576:.1f} MB, above the "
            f"{max_mb} MB limit: {names}; largest files: {listed}. Move data files out of the "
            "package (read them from the cluster's filesystem), list only the modules the job "
            "needs with ship_modules=[...] and ship_local_code=False for the rest, or install the "
            "package on the cluster and set ship_local_code: false")
    return archives


EXTRACT_SCRIPT = r"""
import hashlib, io, os, shutil, sys, tempfile, zipfile
args = sys.argv[1:]
data = sys.stdin.buffer.read()
offset = 0
for i in range(0, len(args), 3):
    target, want, size = args[i], args[i + 1], int(args[i + 2])
    blob = data[offset:offset + size]
    offset += size
    got = hashlib.sha256(blob).hexdigest()
    if got != want:
        sys.stderr.write("clustrix: code archive for %s damaged in transit (sha256 %s, expected %s)\n"
                         % (target, got, want))
        sys.exit(3)
    if os.path.isdir(target):
        continue
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o700)
    tmp = tempfile.mkdtemp(prefix=".unpacking-", dir=parent)
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            for name in zf.namelist():
                if name.startswith("/") or ".." in name.split("/"):
                    sys.stderr.write("clustrix: refusing archive entry %r\n" % name)
                    sys.exit(4)
            zf.extractall(tmp)
        for root, dirs, files in os.walk(tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o700)
            for f in files:
                os.chmod(os.path.join(root, f), 0o600)
        try:
            os.rename(tmp, target)
        except OSError:
            if not os.path.isdir(target):
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
"""
"""``python -c EXTRACT_SCRIPT TARGET SHA256 SIZE [TARGET SHA256 SIZE...] < archives`` (the archives
concatenated in that order; see the module docstring)."""


def extract_args(archives: list[tuple[str, CodeArchive]]) -> tuple[list[str], bytes]:
    """The arguments and stdin of :data:`EXTRACT_SCRIPT` unpacking each ``(target, archive)``."""
    args: list[str] = []
    for target, archive in archives:
        args += [target, archive.sha256, str(len(archive.data))]
    return args, b"".join(a.data for _t, a in archives)
