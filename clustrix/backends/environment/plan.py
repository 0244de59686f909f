"""What a venv on the cluster is made of, and the content hash that names it.

In two steps, so that reusing a venv costs one round trip:

1. :func:`plan_inputs` (here, before talking to the cluster): the normalized requirement list
   (``pip`` items, the requirements file's lines, or the caller's distributions for
   ``replicate``), the wheels that travel whatever the remote Python is (clustrix, cloudpickle,
   pip itself, local packages, a user's wheelhouse directory), and their digest. The venv's
   directory is ``<remote_dir>/envs/<digest>-<remote python tag>``: the remote interpreter's
   implementation, full version and machine complete the content hash, and the cluster computes
   that part itself in the same command that looks for the venv's completion marker.
2. :func:`resolve` (only when the venv must be built): with ``wheelhouse``, every requirement
   and its dependencies become wheels here — repacked from the caller's installed pure
   distributions when one satisfies the requirement, else ``pip download``ed for the remote
   interpreter (:mod:`clustrix.backends.environment.wheels`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import warnings
from dataclasses import dataclass

from clustrix.backends.environment import wheels as wh
from clustrix.config.environment import Environment, read_requirements_file
from clustrix.errors import ClustrixWarning, EnvironmentBuildError

FORMAT = "clustrix-env-1"
"""Bumped when the build recipe changes, so old venvs are not taken for new ones."""

ALWAYS_SKIPPED = {"pip", "clustrix"}
"""Never replicated by name: pip bootstraps the build, clustrix travels as a wheel of this one."""


@dataclass(frozen=True)
class RemotePython:
    """The cluster's base interpreter, as the probe reports it."""

    implementation: str  # "cpython"
    version: str         # "3.11.2"
    machine: str         # "x86_64"
    libc: str = ""       # glibc version ("2.36"), "" when unknown

    @property
    def tag(self) -> str:
        return f"{self.implementation}-{self.version}-{self.machine}"

    @property
    def short_version(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def abi(self) -> str:
        return "cp" + self.short_version.replace(".", "")

    def marker_env(self) -> dict[str, str]:
        """PEP 508 marker values of the remote interpreter (a Linux cluster)."""
        return {"python_version": self.short_version, "python_full_version": self.version,
                "platform_machine": self.machine, "sys_platform": "linux", "platform_system": "Linux",
                "os_name": "posix", "implementation_name": self.implementation,
                "platform_python_implementation": "CPython" if self.implementation == "cpython" else self.implementation,
                "platform_release": "", "platform_version": "", "implementation_version": self.version,
                "extra": ""}

    def platform_tags(self) -> list[str]:
        """Platform tags pip may download binary wheels for (newest manylinux first)."""
        tags = []
        major, _, minor = self.libc.partition(".")
        if major == "2" and minor.isdigit():
            tags += [f"manylinux_2_{m}_{self.machine}" for m in range(int(minor), 4, -1)]
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
            tags += [f"{name}_{self.machine}" for m, name in legacy.items() if m <= int(minor)]
        return tags + [f"linux_{self.machine}"]


@dataclass(frozen=True)
class PlanInputs:
    """What a venv is made of before the remote interpreter is known (see the module docstring)."""

    environment: Environment
    requirements: tuple[str, ...]     # lines of requirements.txt (user requirements, normalized)
    roots: tuple[wh.Wheel, ...]       # installed by file: clustrix, cloudpickle, local packages
    extra: tuple[wh.Wheel, ...]       # a user's wheelhouse directory (find-links only)
    pip: wh.Wheel                     # runs the install; not installed into the venv
    digest: str

    @property
    def uploads(self) -> tuple[wh.Wheel, ...]:
        return (*self.roots, *self.extra, self.pip)


def requirement_items(env: Environment) -> tuple[list[str], list[str]]:
    """(requirement strings, local package paths) of ``env``, in the order given."""
    items = list(env.pip)
    if env.requirements:
        try:
            items += read_requirements_file(env.requirements)
        except (OSError, ValueError) as exc:
            raise EnvironmentBuildError(f"requirements file {env.requirements}: {exc}", item=env.requirements) from exc
    if env.replicate:
        items += replicate_requirements()
    from clustrix.config.environment import looks_like_path

    paths = [i for i in items if looks_like_path(i)]
    reqs = [i for i in items if not looks_like_path(i)]
    return _dedupe(reqs), _dedupe(paths)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def replicate_requirements() -> list[str]:
    """``name==version`` of every distribution this process can import, minus what cannot be
    installed elsewhere (editable installs, local paths, version control, local versions),
    which are named in one :class:`ClustrixWarning`."""
    found: dict[str, str] = {}
    left_out: list[str] = []
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        key = wh.canonical(name)
        if key in found or key in ALWAYS_SKIPPED or any(key == wh.canonical(x.split(" ")[0]) for x in left_out):
            continue  # the first one on sys.path is the one imported
        reason = wh.not_portable_reason(dist)
        if reason is not None:
            left_out.append(f"{name} ({reason})")
            continue
        found[key] = f"{name}=={dist.version}"
    if left_out:
        warnings.warn("replicate: these distributions cannot be installed on the cluster by name and "
                      f"are left out: {', '.join(sorted(left_out))}; ship them as local paths in pip: "
                      "or make them importable there", ClustrixWarning, stacklevel=4)
    return sorted(found.values())


def installed(name: str) -> md.Distribution | None:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        return None


def _bootstrap(name: str, cache_dir: str) -> wh.Wheel:
    """The wheel of this machine's ``name`` (pip, cloudpickle): repacked, else downloaded."""
    dist = installed(name)
    if dist is None:
        raise EnvironmentBuildError(f"{name} is not installed in this Python ({name} must be, to "
                                    f"build a job environment): pip install {name}", item=name)
    wheel = wh.repack(dist, cache_dir)
    return wheel if wheel is not None else wh.pip_download_pure(name, dist.version, cache_dir)


def plan_inputs(env: Environment, *, base_python: str, prelude: tuple[str, ...], cache_dir: str) -> PlanInputs:
    """Everything :func:`resolve` needs that does not depend on the remote interpreter."""
    reqs, paths = requirement_items(env)
    roots = [wh.clustrix_wheel(cache_dir), _bootstrap("cloudpickle", cache_dir)]
    roots += [wh.pip_wheel_local(p, cache_dir) for p in paths]
    extra = []
    if env.wheelhouse_dir:
        for filename in sorted(os.listdir(env.wheelhouse_dir)):
            if filename.endswith(".whl"):
                path = os.path.join(env.wheelhouse_dir, filename)
                name, version, _ = wh.wheel_metadata(path)
                extra.append(wh.Wheel(path, name, version, wh.file_sha256(path)))
    pip = _bootstrap("pip", cache_dir)
    # Offline, unpinned requirements resolve to what is installed here: a local upgrade must
    # make a new venv, so those versions are part of the hash.
    local_versions = []
    if env.offline:
        from packaging.requirements import Requirement

        for req in reqs:
            dist = installed(Requirement(req).name)
            local_versions.append(f"{req} -> {dist.version if dist else '?'}")
    digest = hashlib.sha256(json.dumps({
        "format": FORMAT, "requirements": sorted(reqs), "local_versions": sorted(local_versions),
        "wheels": sorted(f"{w.filename}:{w.sha256}" for w in (*roots, *extra, pip)),
        "offline": env.offline, "python": base_python, "prelude": list(prelude),
    }, sort_keys=True).encode()).hexdigest()[:24]
    return PlanInputs(env, tuple(reqs), tuple(roots), tuple(extra), pip, digest)


def resolve(inputs: PlanInputs, target: RemotePython, cache_dir: str) -> tuple[wh.Wheel, ...]:
    """The wheels to upload for ``target``: the inputs' own, plus, offline, every requirement's
    (and dependency's) wheel — repacked from this machine's install when that satisfies it,
    else downloaded for the remote interpreter."""
    if not inputs.environment.offline:
        return inputs.uploads
    from packaging.requirements import Requirement

    marker_env = target.marker_env()
    have = {wh.canonical(w.name) for w in (*inputs.roots, *inputs.extra)}
    out: list[wh.Wheel] = []
    download: list[str] = []
    queue: list[Requirement] = [Requirement(r) for r in inputs.requirements]
    for root in inputs.roots[2:]:  # local packages: their dependencies must travel too
        queue += [Requirement(r) for r in wh.wheel_metadata(root.path)[2]]
    seen: set[str] = set()
    while queue:
        req = queue.pop(0)
        extras = sorted(req.extras) or [""]
        if req.marker is not None and not any(req.marker.evaluate({**marker_env, "extra": e}) for e in extras):
            continue
        key = wh.canonical(req.name)
        if key in seen or key in have:
            continue
        seen.add(key)
        dist = installed(req.name)
        wheel = None
        if dist is not None and req.specifier.contains(dist.version, prereleases=True):
            wheel = wh.repack(dist, cache_dir)
        if wheel is None:
            download.append(str(req))
            continue
        out.append(wheel)
        for dep in dist.requires or []:  # type: ignore[union-attr]
            dep_req = Requirement(dep)
            if dep_req.marker is None or any(dep_req.marker.evaluate({**marker_env, "extra": e}) for e in extras):
                queue.append(Requirement(str(dep_req).split(";")[0].strip()))
    if download:
        out += wh.pip_download(download, target.platform_tags(), target.short_version, target.abi, cache_dir)
    return (*inputs.uploads, *out)
