"""Build or reuse the cluster images: base (mmdebstrap) -> scheduler layer -> login layer.

    base      clustrix-base:<h>        mmdebstrap --variant=minbase of ``containers/base/packages``
                                       from the Debian mirror apt uses here, ``docker import``ed
                                       (Debian bookworm; trixie for ``slurm2411``, see ``SUITES``)
    layer     clustrix-<flavor>-layer:<h>   ``containers/<flavor>/Dockerfile`` over the base
    final     clustrix-<flavor>:<h>    ``containers/login/Dockerfile`` over the layer, with the
                                       project's wheel (and cloudpickle) installed

Each tag is a hash of its inputs (the recipe files, the base's tag, the wheels' SHA-256), so an
image is rebuilt only when one of those changed; the login layer comes last, so a code change
rebuilds only it (seconds). Builds are serialized across processes (xdist workers) by a file lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clustrix_sim.containers.engine import LABEL
from clustrix_sim.containers.wheels import project_wheels

FLAVORS = ("slurm", "sge", "sim", "slurm2411")
SUITE = "bookworm"
SUITES = {"slurm2411": "trixie"}
"""Flavors whose base is another Debian release than ``SUITE``: Slurm 24.11 is trixie's."""
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MIRROR_ENV = "CLUSTRIX_DEBIAN_MIRROR"
BUILD_TIMEOUT_S = 1800


class ImageBuildError(RuntimeError):
    """An image could not be built; the message holds the failing step's output."""


@dataclass(frozen=True)
class ImageResult:
    tag: str
    built: tuple[str, ...]      # tags built by this call (empty: everything was cached)
    seconds: float


def recipes_dir() -> Path:
    """``containers/`` of the checkout, or the copy shipped inside the wheel."""
    shipped = Path(__file__).parent / "recipes"
    if (shipped / "login").is_dir():
        return shipped
    checkout = Path(__file__).resolve().parents[2] / "containers"
    if (checkout / "login").is_dir():
        return checkout
    raise ImageBuildError(f"no container recipes found (looked in {shipped} and {checkout})")


def debian_mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 or one-line sources), or deb.debian.org."""
    if os.environ.get(MIRROR_ENV):
        return os.environ[MIRROR_ENV]
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text(errors="replace").split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, re.M))
            if SUITE in fields.get("Suites", "").split() and "URIs" in fields:  # same mirror serves trixie
                return fields["URIs"].split()[0]
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if path.exists():
            m = re.search(rf"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+{SUITE}\s", path.read_text(errors="replace"), re.M)
            if m:
                return m.group(1)
    return DEFAULT_MIRROR


def _hash_files(h: Any, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
        h.update(b"x" if os.access(path, os.X_OK) else b"-")


def _digest(*parts: str | Path) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            _hash_files(h, part)
        else:
            h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def _exists(client: Any, tag: str) -> bool:
    from docker.errors import ImageNotFound
    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False


@contextmanager
def _build_lock() -> Iterator[None]:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clustrix"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "containers.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def base_packages(recipes: Path) -> list[str]:
    text = (recipes / "base" / "packages").read_text()
    return [w for line in text.splitlines() for w in line.split("#", 1)[0].split()]


def ensure_base(client: Any, recipes: Path, log: Callable[[str], None], suite: str = SUITE) -> tuple[str, bool]:
    """The base image's tag (built with mmdebstrap of Debian ``suite`` when missing) and whether
    it was built now."""
    packages = base_packages(recipes)
    tag = f"clustrix-base:{_digest(suite, *packages)}"
    if _exists(client, tag):
        return tag, False
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError("building the base image needs mmdebstrap (Debian: apt-get install mmdebstrap)")
    mirror = debian_mirror()
    log(f"building {tag}: mmdebstrap {suite} from {mirror} ({len(packages)} packages)")
    with tempfile.TemporaryDirectory(prefix="clustrix-base-") as tmp:
        tarball = Path(tmp) / "base.tar"
        argv = ["mmdebstrap", "--variant=minbase", "--skip=cleanup/apt/lists", f"--include={','.join(packages)}",
                suite, str(tarball), mirror]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            raise ImageBuildError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
        repo, _, version = tag.partition(":")
        client.api.import_image_from_file(str(tarball), repository=repo, tag=version,
                                          changes=[f"LABEL {LABEL}=1", 'CMD ["/bin/bash"]'])
    return tag, True


def _docker_build(client: Any, context: Path, tag: str, buildargs: dict[str, str], log: Callable[[str], None]) -> None:
    log(f"building {tag}")
    out: list[str] = []
    for chunk in client.api.build(path=str(context), tag=tag, buildargs=buildargs, rm=True, forcerm=True,
                                  labels={LABEL: "1"}, decode=True, timeout=BUILD_TIMEOUT_S):
        if "stream" in chunk:
            out.append(chunk["stream"])
        if "error" in chunk:
            raise ImageBuildError(f"docker build of {tag} failed: {chunk['error']}\n{''.join(out)[-4000:]}")
    if not _exists(client, tag):
        raise ImageBuildError(f"docker build of {tag} produced no image:\n{''.join(out)[-4000:]}")


def _prune_older(client: Any, repo: str, keep: str) -> None:
    """Drop older tags of ``repo`` (images of a previous code version); ignore images in use."""
    from docker.errors import APIError
    for image in client.images.list(name=repo):
        for tag in image.tags:
            if tag.startswith(repo + ":") and tag != keep:
                try:
                    client.images.remove(tag, noprune=False)
                except APIError:
                    pass


def ensure_image(client: Any, flavor: str, log: Callable[[str], None] = lambda _m: None) -> ImageResult:
    """The final image for ``flavor`` (``slurm``, ``sge``, ``sim``, ``slurm2411``), built only if its
    inputs changed."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown image flavor {flavor!r}; choose one of {', '.join(FLAVORS)}")
    began = time.perf_counter()
    recipes = recipes_dir()
    built: list[str] = []
    with tempfile.TemporaryDirectory(prefix="clustrix-img-") as tmp, _build_lock():
        context = Path(tmp) / "login"
        shutil.copytree(recipes / "login", context)
        wheels = project_wheels(context / "wheels")
        base, fresh = ensure_base(client, recipes, log, SUITES.get(flavor, SUITE))
        built += [base] if fresh else []
        layer = f"clustrix-{flavor}-layer:{_digest(base, recipes / flavor)}"
        if not _exists(client, layer):
            _docker_build(client, recipes / flavor, layer, {"BASE": base}, log)
            built.append(layer)
            _prune_older(client, layer.split(":")[0], layer)
        final = f"clustrix-{flavor}:{_digest(layer, recipes / 'login', *(w.sha256 for w in wheels))}"
        if not _exists(client, final):
            _docker_build(client, context, final, {"BASE": layer}, log)
            built.append(final)
            _prune_older(client, final.split(":")[0], final)
    return ImageResult(final, tuple(built), time.perf_counter() - began)


def image_inputs(flavor: str) -> str:
    """A JSON summary of what the image tag hashes (for debugging stale images)."""
    recipes = recipes_dir()
    return json.dumps({"suite": SUITES.get(flavor, SUITE), "packages": base_packages(recipes), "recipes": str(recipes),
                       "flavor": flavor, "mirror": debian_mirror()})
