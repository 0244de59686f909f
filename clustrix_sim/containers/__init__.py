"""Clusters in Docker containers: REAL Slurm 22.05 and Grid Engine 8.1.9, or clustrix_sim, behind
a real OpenSSH login node (recipes in the checkout's ``containers/``).

The ``docker`` SDK is an optional extra (``pip install 'clustrix[containers]'``), imported only
when a container is started; :class:`DockerUnavailable` says what is missing otherwise.

    from clustrix_sim.containers import DockerCluster
    with DockerCluster("sge") as cluster:
        cluster.profile()       # a clustrix profile: SGE over SSH to 127.0.0.1:<port>

Modules: ``engine`` (the SDK, labels, the stale sweep), ``wheels`` (the project's wheel, from the
installed packages), ``images`` (mmdebstrap base, scheduler layer, login layer; hash-tagged),
``cluster`` (``DockerCluster``).
"""

from __future__ import annotations

from clustrix_sim.containers.cluster import DockerCluster, DockerClusterError
from clustrix_sim.containers.engine import DockerUnavailable, docker_available
from clustrix_sim.containers.images import ImageBuildError

__all__ = ["DockerCluster", "DockerClusterError", "DockerUnavailable", "ImageBuildError", "docker_available"]
