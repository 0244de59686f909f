"""A local package shipped to REAL Slurm 22.05 in a container whose Python has never seen it.

The container (``slurm-docker``) has its own filesystem and a Python with clustrix and cloudpickle
only; ``shiplab`` exists in a temporary directory on this side. The preflight's clear error is
shown against a venv in the container that has clustrix but no cloudpickle.
"""

from __future__ import annotations

import pytest
from shiplab_copy import shiplab_on_path

from clustrix import cluster
from clustrix.config.profile import Profile
from clustrix.errors import PreflightError
from clustrix.payload import compat

DEADLINE_S = 180
HOME = "/home/clustrix"
NO_CLOUDPICKLE = f"{HOME}/venv-without-cloudpickle"


@pytest.fixture
def slurm_docker(clusters):
    from clustrix_sim.containers import DockerCluster

    if "slurm" not in clusters:
        clusters["slurm"] = DockerCluster("slurm").start()
    compat.forget_cache()
    yield clusters["slurm"]
    compat.forget_cache()


@pytest.fixture
def shiplab(tmp_path):
    with shiplab_on_path(tmp_path / "client") as src:
        yield src


def profile_of(c, **overrides) -> Profile:
    return Profile.from_mapping(c.profile(**overrides), name="slurm-docker")


def test_the_container_cannot_import_the_package_unless_it_is_shipped(slurm_docker, shiplab):
    probe = slurm_docker.run(["/opt/clustrix/bin/python", "-c", "import shiplab"])
    assert probe.returncode == 1 and "No module named 'shiplab'" in probe.stderr
    from shiplab.analysis import fit

    with pytest.raises(ModuleNotFoundError, match="shiplab"):
        cluster(profile=profile_of(slurm_docker), ship_local_code=False)(fit)(1)


def test_a_function_from_a_local_package_runs_on_real_slurm(slurm_docker, shiplab):
    from shiplab.analysis import Point, fit, norm

    remote = cluster(profile=profile_of(slurm_docker), memory="256M", time="00:05:00")(fit)
    out = remote.submit(20).result(timeout=DEADLINE_S)
    assert out["value"] == 1040 and out["table"] == ["a", "b"] and out["version"] == "one"
    assert out["file"].startswith(f"{HOME}/clustrix-jobs/.clustrix-code/shiplab-"), out["file"]
    listing = slurm_docker.run(["ls", f"{HOME}/clustrix-jobs/.clustrix-code"]).stdout.split()
    assert sorted(name.rsplit("-", 1)[0] for name in listing) == ["shiphelpers", "shiplab"]
    # An array whose arguments are instances of the package's classes.
    assert cluster(profile=profile_of(slurm_docker))(norm).map([Point(-1), Point(2)]) == [1, 2]


@pytest.fixture
def venv_without_cloudpickle(slurm_docker):
    """A venv in the container with clustrix (linked from the image's) and no cloudpickle."""
    script = (f"test -x {NO_CLOUDPICKLE}/bin/python || python3 -m venv --without-pip {NO_CLOUDPICKLE} && "
              f"site=$({NO_CLOUDPICKLE}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])') && "
              "ln -sfn $(/opt/clustrix/bin/python -c 'import clustrix, os; print(os.path.dirname(clustrix.__file__))') "
              "$site/clustrix")
    made = slurm_docker.run(["sh", "-c", script])
    assert made.returncode == 0, made.stderr
    check = slurm_docker.run([f"{NO_CLOUDPICKLE}/bin/python", "-c", "import clustrix.runner, cloudpickle"])
    assert "No module named 'cloudpickle'" in check.stderr  # the mismatch is real
    return f"{NO_CLOUDPICKLE}/bin/python"


def test_a_python_without_cloudpickle_is_a_clear_error_before_submitting(slurm_docker, venv_without_cloudpickle):
    before = slurm_docker.run(["sacct", "-n", "-X", "-o", "JobID"]).stdout.split()
    remote = cluster(profile=profile_of(slurm_docker, python=venv_without_cloudpickle))(lambda x: x + 1)
    with pytest.raises(PreflightError) as info:
        remote.submit(1)
    text = str(info.value)
    assert f"cloudpickle: not importable by {venv_without_cloudpickle} on clustrix@127.0.0.1:" in text
    assert f"Fix: {venv_without_cloudpickle} -m pip install 'cloudpickle==" in text
    assert slurm_docker.run(["sacct", "-n", "-X", "-o", "JobID"]).stdout.split() == before  # nothing submitted


def test_by_reference_code_needs_no_cloudpickle_there(slurm_docker, venv_without_cloudpickle, shiplab):
    from shiplab.analysis import fit

    remote = cluster(profile=profile_of(slurm_docker, python=venv_without_cloudpickle))(fit)
    assert remote.submit(1).result(timeout=DEADLINE_S)["value"] == 1002
