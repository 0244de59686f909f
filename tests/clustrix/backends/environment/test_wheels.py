"""Wheels made on the caller's side: repacked installs, clustrix itself, the replicate list, resolution."""

from __future__ import annotations

import importlib.metadata as md
import warnings
import zipfile
from pathlib import Path

import pytest

from clustrix.backends.environment import wheels as wh
from clustrix.backends.environment.plan import (
    PlanInputs,
    RemotePython,
    replicate_requirements,
    resolve,
)
from clustrix.config.environment import Environment
from clustrix.errors import ClustrixWarning

LINUX = RemotePython("cpython", "3.11.2", "x86_64", "2.36")


def names(path: str) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_a_pure_install_repacks_to_the_same_bytes_every_time(tmp_path: Path):
    dist = md.distribution("sortedcontainers")
    first = wh.repack(dist, str(tmp_path / "a"))
    second = wh.repack(dist, str(tmp_path / "b"))
    assert first is not None and second is not None
    assert first.filename == f"sortedcontainers-{dist.version}-py3-none-any.whl"
    assert Path(first.path).read_bytes() == Path(second.path).read_bytes()
    listed = names(first.path)
    assert "sortedcontainers/sortedlist.py" in listed
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in listed)
    assert wh.wheel_metadata(first.path)[:2] == ("sortedcontainers", dist.version)


def test_clustrix_travels_as_its_sources_without_dependencies(tmp_path: Path):
    wheel = wh.clustrix_wheel(str(tmp_path))
    listed = names(wheel.path)
    assert "clustrix/runner.py" in listed and "clustrix/payload/runner.py" in listed
    assert not any(n.startswith(("clustrix_sim/", "tests/")) for n in listed)
    assert wh.wheel_metadata(wheel.path)[2] == []  # the job needs cloudpickle only, which travels beside it
    assert wh.clustrix_wheel(str(tmp_path)).sha256 == wheel.sha256


def test_editable_and_local_installs_are_not_portable(tmp_path: Path, monkeypatch):
    site = tmp_path / "site"
    for name, version, direct in [("editable-thing", "1.0", '{"url": "file:///src", "dir_info": {"editable": true}}'),
                                  ("localver-thing", "2.0+lab", None),
                                  ("fine-thing", "3.0", None)]:
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        if direct:
            (info / "direct_url.json").write_text(direct)
    monkeypatch.syspath_prepend(str(site))
    with pytest.warns(ClustrixWarning) as caught:
        reqs = replicate_requirements()
    message = str(caught[0].message)
    assert "editable-thing (an editable install)" in message
    assert "localver-thing (a local version (2.0+lab) no index has)" in message
    assert "fine-thing==3.0" in reqs and not any(r.startswith(("editable-thing", "localver-thing")) for r in reqs)
    assert not any(r.lower().startswith(("clustrix==", "pip==")) for r in reqs)
    assert f"sortedcontainers=={md.version('sortedcontainers')}" in reqs


def test_offline_resolution_repacks_installs_and_follows_markers_for_the_remote(tmp_path: Path):
    cache = str(tmp_path)
    env = Environment(pip=("tqdm", "iniconfig; python_version < '3.0'"), wheelhouse=True)
    base = (wh.clustrix_wheel(cache), wh.repack(md.distribution("cloudpickle"), cache))
    pip = wh.repack(md.distribution("pip"), cache)
    inputs = PlanInputs(env, env.pip, base, (), pip, "digest")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = {w.name.lower() for w in resolve(inputs, LINUX, cache)}
    # tqdm's only unconditional dependency is colorama on Windows; iniconfig is for Python 2 only
    assert got == {"clustrix", "cloudpickle", "pip", "tqdm"}


def test_remote_python_tags_cover_its_glibc():
    tags = LINUX.platform_tags()
    assert tags[0] == "manylinux_2_36_x86_64" and "manylinux2014_x86_64" in tags and tags[-1] == "linux_x86_64"
    assert LINUX.abi == "cp311" and LINUX.tag == "cpython-3.11.2-x86_64"
    assert RemotePython("cpython", "3.12.1", "aarch64").platform_tags() == ["linux_aarch64"]
