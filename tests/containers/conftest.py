"""Real containers, real OpenSSH, real schedulers (Slurm 22.05, Grid Engine 8.1.9).

One container per scheduler for the whole session. Without a Docker engine (or the ``docker``
package) every test here skips, naming what is missing; with ``CLUSTRIX_REQUIRE_DOCKER=1`` (set by
``.ci/run``) they fail instead, so CI cannot pass by skipping them. At the end of the session no
container, network or volume labelled by this process may remain.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

REQUIRE_ENV = "CLUSTRIX_REQUIRE_DOCKER"


def _docker_problem() -> str | None:
    from clustrix_sim.containers.engine import docker_available

    return docker_available()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    problem = _docker_problem()
    if problem:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"${REQUIRE_ENV}=1 but Docker is unusable: {problem}", pytrace=False)
        pytest.skip(f"needs a Docker engine: {problem}")
    from clustrix_sim.containers.engine import docker_client as connect
    from clustrix_sim.containers.engine import leftovers

    client = connect()
    yield client
    left = leftovers(client, owner_pid=os.getpid())
    client.close()
    assert not left, f"left behind after the session: {left}"


_clusters: dict[str, object] = {}


@pytest.fixture(scope="session")
def clusters(docker_client) -> Iterator[dict[str, object]]:
    """Started on first use, one per scheduler; all stopped at the end of the session."""
    yield _clusters
    while _clusters:
        _clusters.popitem()[1].stop()


@pytest.fixture(params=["slurm", "sge"])
def real_cluster(request, clusters):
    """The session's container running the real scheduler ``request.param``."""
    from clustrix_sim.containers import DockerCluster

    name = request.param
    if name not in clusters:
        clusters[name] = DockerCluster(name).start()
    return clusters[name]


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CLUSTRIX_DATA_DIR", str(tmp_path / "clustrix-data"))
    monkeypatch.setenv("CLUSTRIX_LEDGER", str(tmp_path / "clustrix-data" / "ledger.sqlite3"))
