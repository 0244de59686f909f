"""Wheels made on the caller's side, for a venv built on a cluster that may have no internet.

Three ways to a wheel, cheapest first:

- **repacking an installed pure-Python distribution** (``Root-Is-Purelib`` and a ``py3-none-any``
  tag in its ``WHEEL`` file): its files, as its ``RECORD`` lists them, zipped again with fresh
  ``WHEEL``/``RECORD`` files. Offline, and exactly the version the caller runs. clustrix itself
  (an editable install has no files in its ``RECORD``) is packed from its package directory,
  with no ``Requires-Dist``: the job side needs only cloudpickle, which travels beside it;
- ``pip wheel --no-deps`` of a local project directory;
- ``pip download`` for the remote interpreter's version and platform (needs an index here).

Zip entries carry a fixed timestamp and a sorted order, so equal contents give equal bytes and an
equal content hash (:mod:`clustrix.backends.environment.plan`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as md
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from clustrix.errors import EnvironmentBuildError

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
PIP_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Wheel:
    """A wheel file on this machine: its path, project name and version, and content digest."""

    path: str
    name: str
    version: str
    sha256: str

    @property
    def filename(self) -> str:
        return os.path.basename(self.path)


def canonical(name: str) -> str:
    """PEP 503 normalized project name (``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _escaped(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name)


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_wheel(out_dir: str, name: str, version: str, files: dict[str, bytes], metadata: bytes,
                extra_dist_info: dict[str, bytes] | None = None) -> Wheel:
    """Write ``{name}-{version}-py3-none-any.whl`` into ``out_dir`` (deterministic bytes)."""
    dist_info = f"{_escaped(name)}-{version}.dist-info"
    wheel_meta = (b"Wheel-Version: 1.0\nGenerator: clustrix\nRoot-Is-Purelib: true\n"
                  b"Tag: py3-none-any\n")
    entries = dict(files)
    for base, data in {**(extra_dist_info or {}), "METADATA": metadata, "WHEEL": wheel_meta}.items():
        entries[f"{dist_info}/{base}"] = data
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path in sorted(entries):
        writer.writerow([path, _digest(entries[path]), len(entries[path])])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    entries[f"{dist_info}/RECORD"] = record.getvalue().encode()
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, f"{_escaped(name)}-{version}-py3-none-any.whl")
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".part")
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        # dist-info last, as the wheel spec recommends
        for path in sorted(entries, key=lambda p: (p.startswith(dist_info), p)):
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[path])
    os.replace(tmp, target)
    return Wheel(target, name, version, file_sha256(target))


def direct_url(dist: md.Distribution) -> dict | None:
    text = dist.read_text("direct_url.json")
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def not_portable_reason(dist: md.Distribution) -> str | None:
    """Why an installed distribution cannot be installed elsewhere by name, or None."""
    url = direct_url(dist)
    if url is not None:
        if url.get("dir_info", {}).get("editable"):
            return "an editable install"
        if "vcs_info" in url:
            return "installed from version control"
        if str(url.get("url", "")).startswith("file:"):
            return "installed from a local path"
    if "+" in (dist.version or ""):
        return f"a local version ({dist.version}) no index has"
    return None


def is_pure(dist: md.Distribution) -> bool:
    """Whether ``dist`` was installed from a pure-Python wheel (and so can be repacked)."""
    text = dist.read_text("WHEEL") or ""
    fields = [line.partition(":") for line in text.splitlines()]
    purelib = any(k.strip() == "Root-Is-Purelib" and v.strip().lower() == "true" for k, _, v in fields)
    tags = {v.strip() for k, _, v in fields if k.strip() == "Tag"}
    return (purelib and bool(tags) and all(t.endswith("-none-any") for t in tags)
            and any("py3" in t.split("-")[0] for t in tags))


def repack(dist: md.Distribution, cache_dir: str) -> Wheel | None:
    """A wheel of an installed pure distribution, or None when it cannot be made from it.

    Cached under ``cache_dir`` by a digest of the distribution's ``RECORD`` and location.
    """
    if not is_pure(dist) or not_portable_reason(dist) is not None:
        return None
    name, version = dist.metadata["Name"], dist.version
    record = dist.read_text("RECORD")
    if not record:
        return None
    where = getattr(dist, "_path", "")  # PathDistribution's directory; part of the cache key only
    key = hashlib.sha256(f"{name}\0{version}\0{where}\0{record}".encode()).hexdigest()[:20]
    out_dir = os.path.join(cache_dir, "repacked", key)
    target = os.path.join(out_dir, f"{_escaped(name)}-{version}-py3-none-any.whl")
    if os.path.isfile(target):  # before dist.files: parsing a long RECORD costs more than this
        return Wheel(target, name, version, file_sha256(target))
    skip_meta = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "WHEEL", "METADATA"}
    files: dict[str, bytes] = {}
    extra: dict[str, bytes] = {}
    for entry in dist.files or ():
        rel = entry.as_posix()
        parts = rel.split("/")
        if rel.startswith("..") or "__pycache__" in parts or rel.endswith((".pyc", ".pyo")):
            continue  # console scripts (pip makes them again) and bytecode
        located = Path(str(entry.locate()))
        if not located.is_file():
            continue
        if parts[0].endswith(".dist-info"):
            if len(parts) == 2 and parts[1] not in skip_meta:
                extra[parts[1]] = located.read_bytes()
            continue
        files[rel] = located.read_bytes()
    metadata = (dist.read_text("METADATA") or f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").encode()
    return write_wheel(out_dir, name, version, files, metadata, extra)


def clustrix_wheel(cache_dir: str) -> Wheel:
    """A wheel of the clustrix package this process runs (the job runner's side of it).

    Packed from the package directory, so an editable install ships its current sources.
    """
    package_dir = Path(__file__).resolve().parents[2]
    try:
        version = md.version("clustrix")
    except md.PackageNotFoundError:
        version = "0"
    sources = [p for p in sorted(package_dir.rglob("*"))
               if p.suffix in (".py", ".typed") and "__pycache__" not in p.parts and p.is_file()]
    # Keyed by names, sizes and modification times: unchanged sources are not read again.
    stats = [(p.relative_to(package_dir).as_posix(), p.stat()) for p in sources]
    key = hashlib.sha256(repr([(n, s.st_size, s.st_mtime_ns) for n, s in stats]).encode()).hexdigest()[:20]
    out_dir = os.path.join(cache_dir, "clustrix", f"{version}-{key}")
    target = os.path.join(out_dir, f"clustrix-{version}-py3-none-any.whl")
    if os.path.isfile(target):
        return Wheel(target, "clustrix", version, file_sha256(target))
    files = {"clustrix/" + p.relative_to(package_dir).as_posix(): p.read_bytes() for p in sources}
    metadata = f"Metadata-Version: 2.1\nName: clustrix\nVersion: {version}\n".encode()
    return write_wheel(out_dir, "clustrix", version, files, metadata)


def wheel_metadata(path: str) -> tuple[str, str, list[str]]:
    """(name, version, Requires-Dist lines) of a wheel file."""
    with zipfile.ZipFile(path) as zf:
        meta_name = next((n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
        if meta_name is None:
            raise EnvironmentBuildError(f"{path} is not a wheel: it has no .dist-info/METADATA", item=path)
        text = zf.read(meta_name).decode("utf-8", errors="replace")
    headers = text.split("\n\n", 1)[0].splitlines()
    get = lambda key: [h.split(":", 1)[1].strip() for h in headers if h.lower().startswith(key.lower() + ":")]  # noqa: E731
    names, versions = get("Name"), get("Version")
    if not names or not versions:
        raise EnvironmentBuildError(f"{path} has no Name/Version in its METADATA", item=path)
    return names[0], versions[0], get("Requires-Dist")


def pip_wheel_local(path: str, cache_dir: str) -> Wheel:
    """A wheel of a local project directory (``pip wheel --no-deps``), or the file itself."""
    if path.endswith(".whl"):
        name, version, _ = wheel_metadata(path)
        return Wheel(path, name, version, file_sha256(path))
    out_dir = tempfile.mkdtemp(prefix="local-", dir=_ensure(os.path.join(cache_dir, "built")))
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
            "--no-input", "-w", out_dir, path]
    done = _run_pip(argv, item=path)
    built = [f for f in os.listdir(out_dir) if f.endswith(".whl")]
    if len(built) != 1:
        raise EnvironmentBuildError(f"pip wheel of local package {path!r} made {built or 'no wheel'}; "
                                    f"its output:\n{_tail(done.stdout + done.stderr)}", item=path)
    wheel_path = os.path.join(out_dir, built[0])
    name, version, _ = wheel_metadata(wheel_path)
    return Wheel(wheel_path, name, version, file_sha256(wheel_path))


def pip_download(requirements: list[str], target_tags: list[str], python_version: str, abi: str,
                 cache_dir: str) -> list[Wheel]:
    """``pip download`` of ``requirements`` (with dependencies) for the remote interpreter.

    ``target_tags`` are platform tags (``manylinux_2_17_x86_64``...), ``python_version`` is
    ``3.11``. Binary wheels only: the cluster builds nothing.
    """
    key = hashlib.sha256(json.dumps([sorted(requirements), target_tags, python_version, abi]).encode()).hexdigest()[:20]
    out_dir = os.path.join(cache_dir, "downloads", key)
    done_mark = os.path.join(out_dir, ".complete")
    if not os.path.isfile(done_mark):
        shutil.rmtree(out_dir, ignore_errors=True)
        os.makedirs(out_dir)
        argv = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                "--only-binary=:all:", "--dest", out_dir, "--python-version", python_version,
                "--implementation", "cp", "--abi", abi, "--abi", "none"]
        for tag in target_tags:
            argv += ["--platform", tag]
        _run_pip(argv + list(requirements), item=", ".join(requirements))
        Path(done_mark).touch()
    wheels = []
    for filename in sorted(os.listdir(out_dir)):
        if filename.endswith(".whl"):
            path = os.path.join(out_dir, filename)
            name, version, _ = wheel_metadata(path)
            wheels.append(Wheel(path, name, version, file_sha256(path)))
    return wheels


def pip_download_pure(name: str, version: str, cache_dir: str) -> Wheel:
    """The ``py3-none-any`` wheel of ``name==version`` from the index this machine's pip uses.

    For the bootstrap wheels (pip, cloudpickle) when this machine's copy cannot be repacked.
    """
    out_dir = os.path.join(cache_dir, "bootstrap", f"{canonical(name)}-{version}")
    found = [f for f in os.listdir(out_dir) if f.endswith(".whl")] if os.path.isdir(out_dir) else []
    if not found:
        os.makedirs(out_dir, exist_ok=True)
        _run_pip([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                  "--no-deps", "--only-binary=:all:", "--dest", out_dir, f"{name}=={version}"], item=name)
        found = [f for f in os.listdir(out_dir) if f.endswith(".whl")]
    path = os.path.join(out_dir, found[0])
    return Wheel(path, name, version, file_sha256(path))


def _run_pip(argv: list[str], *, item: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EnvironmentBuildError(f"{' '.join(argv[2:4])} of {item} took longer than {PIP_TIMEOUT_S:.0f} s "
                                    "on this machine", item=item) from exc
    if done.returncode != 0:
        raise EnvironmentBuildError(
            f"{' '.join(argv[2:4])} failed for {item} on this machine (exit {done.returncode}); pip said:\n"
            f"{_tail(done.stderr or done.stdout)}", item=item, log_tail=_tail(done.stderr or done.stdout))
    return done


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _ensure(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path
