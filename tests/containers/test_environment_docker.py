"""``environment: {pip: [...]}`` on real Slurm in a container whose Python has never seen the package.

The container's interpreters hold clustrix and cloudpickle only; ``sortedcontainers`` (pure Python,
installed in this test environment) exists on the caller's side alone. With ``wheelhouse: true``
clustrix repacks it here, uploads it, and builds a venv on the cluster without any index; the
second session finds the venv and pays one probe; concurrent submissions build it once (counted on
the cluster, in the venv's ``builds`` file); a bad spec fails before any ``sbatch``.
"""

from __future__ import annotations

import importlib.metadata as md
import sys
import threading
import time
import uuid

import cloudpickle
import pytest

from clustrix.backends.environment.wheels import write_wheel
from clustrix.backends.remote.backend import RemoteBackend
from clustrix.config.profile import Profile
from clustrix.errors import EnvironmentBuildError
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec
from clustrix.transports import transport_for

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the container has no tests/ package
DEADLINE_S = 300


def sorted_info():
    import sys

    import sortedcontainers

    return sortedcontainers.__version__, sys.prefix


class CountingTransport:
    """The profile's real SSH transport, remembering the commands it ran."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.host = inner.host
        self.commands: list[str] = []

    def run(self, argv, **kw):
        self.commands.append(argv[0])
        return self.inner.run(argv, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def slurm(clusters):
    from clustrix_sim.containers import DockerCluster

    if "slurm" not in clusters:
        clusters["slurm"] = DockerCluster("slurm").start()
    return clusters["slurm"]


def env_profile(c, remote_dir: str, **environment) -> Profile:
    environment.setdefault("wheelhouse", True)
    return Profile.from_mapping(c.profile(remote_dir=remote_dir, environment=environment), name="slurm-docker")


def backend(profile: Profile) -> tuple[RemoteBackend, CountingTransport]:
    transport = CountingTransport(transport_for(profile))
    return RemoteBackend(profile, transport=transport, ledger=False), transport


def run_once(profile: Profile) -> tuple[object, object, CountingTransport]:
    be, transport = backend(profile)
    try:
        fut = be.submit(Call(sorted_info, (), {}), JobSpec(name="envtest"))
        return fut.result(timeout=DEADLINE_S), be.environment.interpreter(), transport
    finally:
        be.shutdown()


def test_a_package_only_the_caller_has_runs_from_an_uploaded_wheelhouse_then_is_reused(slurm):
    assert slurm.run(["python3", "-c", "import sortedcontainers"]).returncode != 0  # not there
    profile = env_profile(slurm, f"/home/clustrix/env-{uuid.uuid4().hex[:8]}", pip=["sortedcontainers"])
    began = time.perf_counter()
    (version, prefix), first, _ = run_once(profile)
    first_s = time.perf_counter() - began
    assert version == md.version("sortedcontainers")
    assert first.built and prefix == f"{first.env_dir}/venv"
    began = time.perf_counter()
    (_, prefix2), second, transport = run_once(profile)
    second_s = time.perf_counter() - began
    assert not second.built and prefix2 == prefix
    assert transport.commands.count("sh") == 1  # the probe, and no build
    print(f"\nfirst session {first_s:.2f} s (environment {first.ready_s:.2f} s); "
          f"second {second_s:.2f} s (environment {second.ready_s:.2f} s)")


def test_concurrent_submissions_build_the_venv_once(slurm):
    remote_dir = f"/home/clustrix/env-{uuid.uuid4().hex[:8]}"
    profile = env_profile(slurm, remote_dir, pip=["sortedcontainers"])
    results: list[object] = []

    def submit() -> None:
        try:
            results.append(run_once(profile))
        except BaseException as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE_S * 2)
    assert len(results) == 6 and not [r for r in results if isinstance(r, BaseException)], results
    env_dirs = {r[1].env_dir for r in results}
    assert len(env_dirs) == 1
    builds = slurm.run(["cat", f"{env_dirs.pop()}/builds"])
    assert builds.returncode == 0 and len(builds.stdout.splitlines()) == 1, builds


def test_an_unknown_package_fails_before_any_sbatch_naming_it(slurm):
    name = "clustrix-test-no-such-package-" + uuid.uuid4().hex[:6]
    be, transport = backend(env_profile(slurm, f"/home/clustrix/env-{uuid.uuid4().hex[:8]}", pip=[name]))
    try:
        with pytest.raises(EnvironmentBuildError) as info:
            be.submit(Call(sorted_info, (), {}), JobSpec(name="envtest"))
        assert name in str(info.value) and name in info.value.log_tail
        assert "sbatch" not in transport.commands
    finally:
        be.shutdown()


def test_a_package_the_cluster_python_refuses_fails_with_the_build_log_tail(slurm, tmp_path):
    wheel = write_wheel(str(tmp_path), "needs-future", "1.0", {"needs_future/__init__.py": b""},
                        b"Metadata-Version: 2.1\nName: needs-future\nVersion: 1.0\nRequires-Python: >=3.99\n")
    be, transport = backend(env_profile(slurm, f"/home/clustrix/env-{uuid.uuid4().hex[:8]}", pip=[wheel.path]))
    try:
        with pytest.raises(EnvironmentBuildError) as info:
            be.submit(Call(sorted_info, (), {}), JobSpec(name="envtest"))
        err = info.value
        assert err.item == "needs-future" and "requires a different Python" in err.log_tail
        assert err.log_path and slurm.run(["test", "-s", err.log_path]).returncode == 0  # kept there
        assert "sbatch" not in transport.commands
    finally:
        be.shutdown()
