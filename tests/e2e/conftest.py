"""Fixtures for end-to-end tests: real processes, real SSH (the simulator's sshd on loopback).

Every test gets its own ledger and data dir (environment variables, so subprocesses share them).
The SSH server and the simulated cluster are session-scoped to keep the suite fast.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from e2e_env import JOB_ENV, code_under_test_sim


@dataclass(frozen=True)
class SSHLogin:
    host: str
    port: int
    user: str
    key_file: str
    known_hosts: str
    home: str
    server: object

    def profile_mapping(self, **overrides: object) -> dict[str, object]:
        data: dict[str, object] = {
            "name": "e2e-ssh", "backend": "ssh", "host": self.host, "port": self.port, "user": self.user,
            "key_file": self.key_file, "known_hosts": self.known_hosts, "use_ssh_config": False,
            "remote_dir": os.path.join(self.home, "jobs"), "python": sys.executable,
            "poll_interval_s": 0.05, "poll_max_interval_s": 0.3, "command_timeout_s": 30.0,
            "env": dict(JOB_ENV),
        }
        data.update(overrides)
        return data


@pytest.fixture(autouse=True)
def isolated_user_data(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CLUSTRIX_DATA_DIR", str(tmp_path / "clustrix-data"))
    monkeypatch.setenv("CLUSTRIX_LEDGER", str(tmp_path / "clustrix-data" / "ledger.sqlite3"))


@pytest.fixture(scope="session")
def ssh_login(tmp_path_factory) -> Iterator[SSHLogin]:
    """A real SSH server (paramiko, loopback) whose commands run on this machine."""
    from clustrix_sim.ssh.keys import new_host_key, write_client_key, write_known_hosts
    from clustrix_sim.ssh.server import SimSSHServer

    root = tmp_path_factory.mktemp("sshd")
    home = root / "home"
    home.mkdir()
    client_key = write_client_key(root / "id_ed25519")
    host_key = new_host_key()
    env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")}
    server = SimSSHServer([client_key], host_key, env=env, home=str(home), user=getpass.getuser()).start()
    known = write_known_hosts(root / "known_hosts", [("127.0.0.1", server.port, host_key)])
    try:
        yield SSHLogin("127.0.0.1", server.port, getpass.getuser(), str(root / "id_ed25519"), str(known),
                       str(home), server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[object]:
    """One simulated SLURM cluster over SSH for the session (60 sim seconds per real second)."""
    sim = code_under_test_sim()(scheduler="slurm", ssh=True, nodes=2, cores_per_node=4, mem_per_node="8G", time_scale=60)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="session")
def sge_cluster() -> Iterator[object]:
    """One simulated Grid Engine cluster over SSH for the session (60 sim seconds per real second)."""
    from clustrix_sim.cluster import SimCluster

    sim = SimCluster(scheduler="sge", ssh=True, nodes=2, cores_per_node=4, mem_per_node="8G", time_scale=60)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def slurm(slurm_cluster) -> Iterator[object]:
    """The session cluster, with every fault this test injected undone afterwards."""
    yield slurm_cluster
    faults = slurm_cluster.faults
    faults.clear()
    faults.enable_accounting()
    faults.set_min_job_age(300)
    for node in slurm_cluster.config.nodes:
        faults.resume_node(node.name)


@pytest.fixture(scope="session", params=["pbs", "torque"])
def any_cluster(request, tmp_path_factory) -> Iterator[object]:
    """A simulated PBS Pro, then Torque, cluster (SLURM and SGE: ``test_scheduler_backends.py``)."""
    sim = code_under_test_sim()(scheduler=request.param, ssh=True, nodes=2, cores_per_node=4, mem_per_node="8G",
                                time_scale=60)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def cluster(any_cluster) -> Iterator[object]:
    """``any_cluster`` with every fault this test injected undone afterwards."""
    yield any_cluster
    any_cluster.faults.clear()
    any_cluster.faults.enable_accounting()
    any_cluster.faults.set_min_job_age(300)
