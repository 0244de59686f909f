"""``environment:`` on the simulated SLURM cluster over real SSH: jobs run in the venv clustrix built.

The simulator's jobs run on this machine, whose interpreter has everything installed; the venv
(made from that interpreter, without its site-packages) must still run the job, and only what the
environment asked for is importable there.
"""

from __future__ import annotations

import sys

import cloudpickle
import pytest

from clustrix import cluster
from clustrix.api.executor import ClusterExecutor
from clustrix.config.profile import Profile

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 120


def where_am_i(x):
    import importlib.util
    import sys

    import sortedcontainers

    return (x, sys.prefix, sortedcontainers.__file__.startswith(sys.prefix),
            importlib.util.find_spec("hypothesis") is None)


def test_jobs_and_arrays_run_in_the_built_venv_and_a_second_session_reuses_it(slurm_cluster, tmp_path):
    mapping = slurm_cluster.profile(name="sim-env", remote_dir=str(tmp_path / "jobs"),
                                    environment={"pip": ["sortedcontainers"], "wheelhouse": True})
    profile = Profile.from_mapping(mapping)
    with ClusterExecutor(profile) as ex:
        x, prefix, from_venv, isolated = ex.submit(where_am_i, 1).result(timeout=DEADLINE_S)
        ready = ex.backend.environment.interpreter()
        assert ready.built and prefix == f"{ready.env_dir}/venv" and from_venv and isolated
        assert [r[0] for r in ex.map(where_am_i, range(4), timeout=DEADLINE_S)] == [0, 1, 2, 3]
    remote = cluster(profile=mapping)(where_am_i)  # the decorator, a new backend: found, not built
    assert remote(7)[:2] == (7, prefix)
    with ClusterExecutor(profile) as ex:
        assert not ex.backend.environment.interpreter().built


def test_the_decorator_sets_an_environment_over_a_profile_without_one(slurm_cluster, tmp_path):
    mapping = slurm_cluster.profile(name="sim-plain", remote_dir=str(tmp_path / "jobs"))

    def plain_prefix():
        import sys

        return sys.prefix

    assert cluster(profile=mapping)(plain_prefix)() == sys.prefix  # the profile's interpreter
    remote = cluster(profile=mapping, environment={"pip": ["sortedcontainers"], "wheelhouse": True})(where_am_i)
    x, prefix, from_venv, isolated = remote(3)
    assert x == 3 and prefix.startswith(str(tmp_path / "jobs" / "envs")) and from_venv and isolated


def test_many_concurrent_submissions_from_several_executors_build_once(slurm_cluster, tmp_path):
    import threading
    from pathlib import Path

    mapping = slurm_cluster.profile(name="sim-many", remote_dir=str(tmp_path / "jobs"),
                                    environment={"pip": ["sortedcontainers"], "wheelhouse": True})
    executors = [ClusterExecutor(Profile.from_mapping(mapping)) for _ in range(4)]  # one backend each
    results: list[object] = []
    lock = threading.Lock()

    def submit(ex, i):
        try:
            value = ex.submit(where_am_i, i).result(timeout=DEADLINE_S)
        except BaseException as exc:  # noqa: BLE001 - reported below
            value = exc
        with lock:
            results.append(value)

    threads = [threading.Thread(target=submit, args=(executors[i % 4], i)) for i in range(32)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DEADLINE_S * 3)
    finally:
        for ex in executors:
            ex.shutdown()
    assert sorted(r[0] for r in results if isinstance(r, tuple)) == list(range(32)), results
    prefixes = {r[1] for r in results}
    assert len(prefixes) == 1
    builds = Path(prefixes.pop()).parent / "builds"
    assert len(builds.read_text().splitlines()) == 1


SYSTEM_PYTHON = "/usr/bin/python3"


def _lacks_cloudpickle(python: str) -> bool:
    import os
    import subprocess

    if not os.access(python, os.X_OK):
        return False
    probe = subprocess.run([python, "-c", "import cloudpickle"], capture_output=True, env={})
    return probe.returncode != 0


@pytest.mark.skipif(not _lacks_cloudpickle(SYSTEM_PYTHON),
                    reason=f"needs {SYSTEM_PYTHON} without cloudpickle (a base interpreter jobs cannot use as is)")
def test_the_preflight_asks_the_built_venv_not_the_base_interpreter_it_was_made_from(slurm_cluster, tmp_path):
    """The base python lacks cloudpickle, so the preflight would refuse it; the venv has it."""
    mapping = slurm_cluster.profile(name="sim-base", remote_dir=str(tmp_path / "jobs"), python=SYSTEM_PYTHON,
                                    environment={"pip": ["sortedcontainers"], "wheelhouse": True})
    with ClusterExecutor(Profile.from_mapping(mapping)) as ex:
        x, prefix, from_venv, _isolated = ex.submit(where_am_i, 5).result(timeout=DEADLINE_S)
        assert ex.backend.stager.prep.job_python == f"{prefix}/bin/python"
    assert x == 5 and from_venv and prefix.startswith(str(tmp_path / "jobs" / "envs"))
