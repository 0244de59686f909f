"""The user's local package shipped to slurm-sim over real SSH, and the preflight's clear errors.

The jobs' ``PYTHONPATH`` is only the clustrix under test (``JOB_ENV``): the copy of ``shiplab``
this test imports sits in a temporary directory nobody tells the job about, so a job can import
it only if clustrix ships it (the first test shows the job failing without shipping).
"""

from __future__ import annotations

import os
import stat
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from e2e_env import JOB_ENV
from shiplab_copy import shiplab_on_path

from clustrix import cluster, use_profile
from clustrix.api.decorator import executor_for
from clustrix.config.profile import Profile
from clustrix.errors import PreflightError
from clustrix.payload import compat

DEADLINE_S = 90


@pytest.fixture
def shiplab(tmp_path):
    with shiplab_on_path(tmp_path / "client") as src:
        yield src


@pytest.fixture(autouse=True)
def fresh_preflight():
    compat.forget_cache()  # each test's python must be probed by that test
    yield
    compat.forget_cache()


def profile_for(slurm, tmp_path, **overrides) -> Profile:
    mapping = slurm.profile(name="ship", remote_dir=str(tmp_path / "jobs"), **overrides)
    assert mapping["env"]["PYTHONPATH"] == JOB_ENV["PYTHONPATH"]  # nothing of shiplab's on it
    return Profile.from_mapping(mapping)


def job_dirs(tmp_path) -> list[str]:
    root = tmp_path / "jobs"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.exists() else []


def test_without_shipping_the_job_cannot_import_the_package(slurm, tmp_path, shiplab):
    from shiplab.analysis import fit

    remote = cluster(profile=profile_for(slurm, tmp_path), ship_local_code=False)(fit)
    with pytest.raises(ModuleNotFoundError, match="shiplab"):
        remote.submit(1).result(timeout=DEADLINE_S)


def test_a_function_from_a_local_package_runs_with_its_package_shipped(slurm, tmp_path, shiplab):
    from shiplab.analysis import fit

    remote = cluster(profile=profile_for(slurm, tmp_path))(fit)
    out = remote.submit(5).result(timeout=DEADLINE_S)
    # util (imported inside fit), shiphelpers (a sibling module) and the data file all came along.
    assert out["value"] == 1010 and out["version"] == "one" and out["table"] == ["a", "b"]
    code_root = tmp_path / "jobs" / ".clustrix-code"
    assert out["file"].startswith(str(code_root) + os.sep), out["file"]  # not the client's copy
    shipped = sorted(p.name.rsplit("-", 1)[0] for p in code_root.iterdir())
    assert shipped == ["shiphelpers", "shiplab"]
    assert stat.S_IMODE(code_root.stat().st_mode) == 0o700
    # A second call of the same code ships nothing new; an edit ships a new version beside the old.
    assert remote(6)["value"] == 1012
    assert len(list(code_root.iterdir())) == 2
    init = shiplab / "shiplab" / "__init__.py"
    init.write_text('VERSION = "two"\n')
    assert remote(7)["version"] == "two"
    assert sorted(p.name.rsplit("-", 1)[0] for p in code_root.iterdir()) == ["shiphelpers", "shiplab", "shiplab"]


def test_a_function_decorated_in_its_own_package_runs_as_package_code(slurm, tmp_path, shiplab):
    from shiplab.jobs import decorated  # @cluster applied in shiplab/analysis.py

    with use_profile(profile_for(slurm, tmp_path)):
        doubled, first, file = decorated(21)
    # Sent by reference to the original function, so its relative import and __file__ are the
    # shipped package's, not the client's (by value, they would point at this machine's copy).
    assert (doubled, first) == (42, "a")
    assert file.startswith(str(tmp_path / "jobs" / ".clustrix-code") + os.sep), file


def test_concurrent_first_submissions_ship_each_version_once(slurm, tmp_path, shiplab):
    from shiplab.analysis import fit

    profile = profile_for(slurm, tmp_path)
    transport = executor_for(profile).backend.transport
    unpacks = []
    original = transport.run

    def counting_run(argv, *args, **kwargs):  # the real transport, counted
        if ".unpacking-" in argv[-1]:
            unpacks.append(argv)
        return original(argv, *args, **kwargs)

    transport.run = counting_run
    remote = cluster(profile=profile)(fit)
    with ThreadPoolExecutor(8) as pool:
        futures = list(pool.map(remote.submit, range(8)))
    assert [f.result(timeout=DEADLINE_S)["value"] for f in futures] == [1000 + 2 * i for i in range(8)]
    assert len(unpacks) == 1  # one command for 8 threads, carrying both modules
    assert "/shiplab-" in unpacks[0][-1] and "/shiphelpers-" in unpacks[0][-1]


def test_arrays_and_argument_classes_from_the_package(slurm, tmp_path, shiplab):
    from shiplab.analysis import Point, norm

    remote = cluster(profile=profile_for(slurm, tmp_path, array_chunk_size=2))(norm)
    assert remote.map([Point(-3), Point(4), Point(-5)]) == [3, 4, 5]


def test_a_closure_over_package_code_ships_it_too(slurm, tmp_path, shiplab):
    from shiplab.util import double

    factor = 3

    def scaled(x):  # by value (a local function); double travels by reference inside it
        return double(x) * factor

    assert cluster(profile=profile_for(slurm, tmp_path))(scaled)(7) == 42


def test_ship_modules_ships_a_module_only_imported_by_name(slurm, tmp_path, shiplab):
    def load(name):
        import importlib

        return importlib.import_module(name).offset()

    base = profile_for(slurm, tmp_path)
    with pytest.raises(ModuleNotFoundError, match="shiphelpers"):
        cluster(profile=base)(load)("shiphelpers")
    assert cluster(profile=base, ship_modules=["shiphelpers"])(load)("shiphelpers") == 1000


def write_fake_python(tmp_path: Path, version: tuple[int, int, int]) -> str:
    """A ``python`` that runs this interpreter but reports another version to whoever asks."""
    site = tmp_path / "fake-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import collections, sys
        _V = collections.namedtuple("version_info", "major minor micro releaselevel serial")
        sys.version_info = _V({version[0]}, {version[1]}, {version[2]}, "final", 0)
    """))
    wrapper = tmp_path / "python-fake"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{site}:$PYTHONPATH" exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_another_python_minor_version_is_a_clear_error_before_submitting(slurm, tmp_path):
    python = write_fake_python(tmp_path, (3, sys.version_info.minor - 1, 4))
    remote = cluster(profile=profile_for(slurm, tmp_path, python=python))(lambda: 1)
    with pytest.raises(PreflightError) as info:
        remote.submit()
    text = str(info.value)
    here = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    assert f"CPython {here}" in text and f"CPython 3.{sys.version_info.minor - 1}.4" in text
    assert python in text and "Fix: point the profile's python at a CPython 3." in text
    assert job_dirs(tmp_path) == []  # nothing was staged, nothing submitted


def test_a_python_without_cloudpickle_is_a_clear_error_for_by_value_code(slurm, tmp_path):
    # The system Python (no venv): clustrix reachable through JOB_ENV's PYTHONPATH, cloudpickle not.
    system = "/usr/bin/python3"
    probe = compat.probe(_LocalSh(), system, env=tuple(JOB_ENV.items()))
    if probe.cloudpickle is not None:
        pytest.skip(f"{system} has cloudpickle {probe.cloudpickle}; this test needs a Python without it")
    remote = cluster(profile=profile_for(slurm, tmp_path, python=system))(lambda: 1)
    with pytest.raises(PreflightError, match=r"cloudpickle: not importable by /usr/bin/python3 on .*"
                                             r"pip install 'cloudpickle=="):
        remote.submit()
    assert job_dirs(tmp_path) == []


def test_a_python_that_does_not_exist_is_named(slurm, tmp_path):
    remote = cluster(profile=profile_for(slurm, tmp_path, python="/nonexistent/bin/python3"))(lambda: 1)
    with pytest.raises(PreflightError, match=r"cannot run the profile's python \(/nonexistent/bin/python3 on "):
        remote.submit()


class _LocalSh:
    """The probe run on this machine (the simulator's login node is this machine)."""

    host = None

    def run(self, argv, *, stdin=None, timeout_s=None, retry_safe=False):
        import subprocess

        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, env={"PATH": "/usr/bin:/bin"})
