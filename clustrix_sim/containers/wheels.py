"""Wheels for the images, made from the installed packages (no build backend, no network).

The images need the project (``clustrix``, ``clustrix_sim``, ``pytest_clustrix``) so jobs can run
``python -m clustrix.runner``, and the very ``cloudpickle`` that pickles on this side (pickles of
functions travel by value and are only loadable by a matching cloudpickle). Both are pure Python,
so a wheel is a zip of the package files plus the three ``.dist-info`` files pip needs. The
output is deterministic (sorted entries, fixed timestamps): its SHA-256 is part of the image tag.

Packages are located with ``importlib.util.find_spec``, which finds a package without running
it: this module never imports ``clustrix``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_PACKAGES = ("clustrix", "clustrix_sim", "pytest_clustrix")
PROJECT_DIST = "clustrix"
RUNTIME_DISTS = ("cloudpickle",)
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class Wheel:
    path: Path
    sha256: str


def package_dir(name: str) -> Path:
    """The directory of the installed (or checked-out) package ``name``, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed here; install it (pip install -e '.[containers]')")
    return Path(list(spec.submodule_search_locations)[0])


def _version(dist: str, fallback: str = "0") -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return fallback


def _files(root: Path) -> list[tuple[str, Path]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(_SKIP_SUFFIXES):
                continue
            full = Path(dirpath, name)
            out.append((full.relative_to(root.parent).as_posix(), full))
    return out


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def build_wheel(dist: str, version: str, packages: list[Path], out_dir: Path) -> Wheel:
    """Write ``<dist>-<version>-py3-none-any.whl`` holding ``packages`` into ``out_dir``."""
    normalized = dist.replace("-", "_")
    info = f"{normalized}-{version}.dist-info"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{normalized}-{version}-py3-none-any.whl"
    entries: list[tuple[str, bytes]] = []
    for pkg in packages:
        entries += [(arc, full.read_bytes()) for arc, full in _files(pkg)]
    entries.sort()
    entries.append((f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()))
    entries.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: clustrix_sim.containers\n"
                                     b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    record = [_record_line(arc, data) for arc, data in entries] + [f"{info}/RECORD,,"]
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arc, data in entries:
            zi = zipfile.ZipInfo(arc, date_time=_EPOCH)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    os.replace(tmp, path)
    return Wheel(path, hashlib.sha256(path.read_bytes()).hexdigest())


def project_wheels(out_dir: Path) -> list[Wheel]:
    """The project's wheel and its job-side runtime (cloudpickle), as installed here."""
    wheels = [build_wheel(PROJECT_DIST, _version(PROJECT_DIST, "0.dev0"),
                          [package_dir(p) for p in PROJECT_PACKAGES], out_dir)]
    for dist in RUNTIME_DISTS:
        wheels.append(build_wheel(dist, _version(dist), [package_dir(dist)], out_dir))
    return wheels
