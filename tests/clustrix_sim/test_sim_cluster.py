"""SimCluster: lifecycle, local-mode environment, shims, SSH front door, profile."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time

import paramiko
import pytest

from clustrix_sim import SimCluster
from clustrix_sim.cluster import SimClusterError
from clustrix_sim.controller import protocol
from clustrix_sim.engine.model import PartitionRecord
from clustrix_sim.engine.processes import pid_alive


@pytest.fixture(scope="module")
def sim():
    cluster = SimCluster(nodes=3, cores_per_node=2, mem_per_node="8G", time_scale=10)
    cluster.start()
    yield cluster
    cluster.stop()


def ssh_client(sim: SimCluster) -> paramiko.SSHClient:
    info = sim.ssh
    client = paramiko.SSHClient()
    client.load_host_keys(info.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())  # strict: the known_hosts must match
    client.connect(info.host, info.port, username=info.user, key_filename=info.key_file,
                   look_for_keys=False, allow_agent=False, timeout=10)
    return client


def exec_text(client: paramiko.SSHClient, command: str) -> tuple[int, str, str]:
    _, out, err = client.exec_command(command, timeout=30)
    rc = out.channel.recv_exit_status()
    return rc, out.read().decode(), err.read().decode()


def test_layout_and_permissions(sim):
    assert stat.S_IMODE(os.stat(sim.state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(sim.socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sim.ssh.key_file).st_mode) == 0o600
    for tool in ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo", "srun"):
        path = os.path.join(sim.bin_dir, tool)
        assert os.access(path, os.X_OK), path
    assert sim.start_seconds is not None and sim.start_seconds > 0


def test_info_nodes_and_partitions(sim):
    info = sim.call("info")
    assert (info["cluster_name"], info["flavor"], info["time_scale"]) == ("simcluster", "slurm", 10.0)
    assert info["ssh"]["port"] == sim.ssh.port
    nodes = sim.call("nodes")["nodes"]
    assert [(n["name"], n["cpus"], n["mem_mb"], n["partitions"]) for n in nodes] == [
        (f"c{i}", 2, 8192, ["normal"]) for i in (1, 2, 3)]
    assert sim.call("partitions")["partitions"][0]["default"] is True


def test_env_points_local_mode_at_this_cluster(sim):
    env = sim.env()
    assert env["PATH"].split(os.pathsep)[0] == sim.bin_dir
    assert env[protocol.SOCKET_ENV] == sim.socket_path
    out = sim.run(["sh", "-c", 'command -v sbatch; echo "$CLUSTRIX_SIM_SOCKET"'])
    assert out.stdout.splitlines() == [os.path.join(sim.bin_dir, "sbatch"), sim.socket_path]


def test_profile_is_accepted_by_clustrix(sim):
    from clustrix.config.profile import Profile

    profile = Profile.from_mapping(sim.profile(), name="sim")
    assert (profile.backend, profile.host, profile.port, profile.host_key_policy) == (
        "slurm", "127.0.0.1", sim.ssh.port, "strict")
    assert profile.remote_dir == os.path.join(sim.home, "clustrix-jobs")
    assert Profile.from_mapping(sim.profile(poll_interval_s=1.0)).poll_interval_s == 1.0
    assert profile.max_array_size == sim.config.max_array_size  # maps bigger than the site's are split


def test_ssh_runs_commands_on_the_login_node_with_the_cluster_env(sim):
    client = ssh_client(sim)
    try:
        rc, out, _ = exec_text(client, 'pwd; command -v squeue; echo "$CLUSTRIX_SIM_SOCKET"')
        assert rc == 0
        assert out.splitlines() == [sim.home, os.path.join(sim.bin_dir, "squeue"), sim.socket_path]
    finally:
        client.close()


def test_ssh_survives_many_concurrent_connections(sim):
    results: list[str] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            client = ssh_client(sim)
            try:
                results.append(exec_text(client, f"echo {i}")[1].strip())
            finally:
                client.close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(results, key=int) == [str(i) for i in range(16)]


def test_drop_ssh_connections_cuts_open_sessions(sim):
    client = ssh_client(sim)
    try:
        assert exec_text(client, "true")[0] == 0
        transport = client.get_transport()
        sim.faults.drop_ssh_connections()
        sim.wait_for(lambda: not transport.is_active(), 10, "the connection to drop")
    finally:
        client.close()
    again = ssh_client(sim)  # the server itself keeps accepting
    try:
        assert exec_text(again, "echo back")[1] == "back\n"
    finally:
        again.close()


def test_stop_removes_everything_and_controller_pid():
    sim = SimCluster(nodes=1, ssh=False)
    with pytest.raises(SimClusterError, match="not running"):
        sim.env()
    sim.start()
    pid, root = sim.controller_pid, sim.root
    sim.stop()
    assert not os.path.exists(root)
    sim.wait_for(lambda: not pid_alive(pid), 10, "the controller to exit")
    sim.stop()  # idempotent


def test_keep_and_restart_on_the_same_root(tmp_path):
    root = str(tmp_path / "r")
    sim = SimCluster(nodes=1, ssh=False, root=root, keep=True)
    sim.start()
    sim.call("fault", {"action": "set_min_job_age", "seconds": 5})
    sim.stop()
    assert os.path.isdir(root)
    again = SimCluster(nodes=1, ssh=False, root=root)
    with again:
        assert again.call("info")["min_job_age_s"] == 5  # the stored cluster wins over new arguments
    assert os.path.isdir(root)  # a caller-given root is never removed


def test_second_controller_on_a_live_state_dir_is_refused(tmp_path):
    root = str(tmp_path / "r")
    with SimCluster(nodes=1, ssh=False, root=root):
        other = SimCluster(nodes=1, ssh=False, root=root)
        with pytest.raises(SimClusterError, match="already serving"):
            other.start()


@pytest.mark.parametrize("kw, match", [
    (dict(scheduler="lsf"), "not simulated"),
    (dict(time_scale=0), "time_scale"),
    (dict(mem_per_node="lots"), "invalid memory size"),
    (dict(nodes=0), "invalid node shape"),
    (dict(partitions=[PartitionRecord("p", ["c9"])]), "unknown nodes"),
])
def test_bad_arguments_name_the_value(kw, match):
    with pytest.raises(ValueError, match=match):
        SimCluster(**kw)


def test_partitions_from_mappings():
    sim = SimCluster(nodes=2, ssh=False, partitions=[{"name": "a", "nodes": ["c1"], "default": True},
                                                   {"name": "b", "nodes": ["c2"], "max_time_s": 60}])
    assert [p.name for p in sim.config.partitions] == ["a", "b"]
    assert sim.config.nodes[1].partitions == ["b"]


def test_controller_unavailable_gives_the_real_tools_error(tmp_path):
    from clustrix_sim.controller import tool_scripts

    bin_dir = tool_scripts.write_tool_scripts(str(tmp_path), "slurm", str(tmp_path / "nothing.sock"))
    env = {k: v for k, v in os.environ.items() if k != protocol.SOCKET_ENV}
    out = subprocess.run([os.path.join(bin_dir, "sbatch"), "--wrap", "true"], capture_output=True, text=True,
                         env=env, timeout=30, check=False)
    assert out.returncode == 1
    assert "Unable to contact slurm controller" in out.stderr


def test_cluster_dies_with_its_owner_process(tmp_path):
    script = f"""
import os, sys, time
from clustrix_sim import SimCluster
from clustrix_sim.engine.model import JobRequest
sim = SimCluster(nodes=1, ssh=False, root={str(tmp_path / "r")!r}).start()
req = JobRequest(script="#!/bin/sh\\necho $$ > {tmp_path}/job; sleep 60\\n", name="j", user="u", uid=0,
                 work_dir={str(tmp_path)!r})
sim.call("submit", {{"request": req.to_dict()}})
print(sim.controller_pid, sim.ready_info["toolserver_pid"], flush=True)
time.sleep(120)
"""
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        controller, toolserver = (int(x) for x in owner.stdout.readline().split())
        job_file = tmp_path / "job"
        deadline = time.monotonic() + 20
        while not (job_file.exists() and job_file.read_text().endswith("\n")):
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.02)
        job = int(job_file.read_text())
    finally:
        owner.kill()  # the test process of a crashed test suite
        owner.wait(10)
    deadline = time.monotonic() + 20
    while any(pid_alive(p) for p in (controller, toolserver, job)):
        assert time.monotonic() < deadline, "the orphaned cluster kept running"
        time.sleep(0.05)


def test_a_cluster_starts_under_a_tmpdir_too_deep_for_a_unix_socket(tmp_path, monkeypatch):
    import tempfile

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    with SimCluster(nodes=1, cores_per_node=1, ssh=False) as cluster:
        root = cluster.root
        assert root is not None and len(cluster.socket_path.encode()) <= 107
        done = cluster.run(["sinfo", "--noheader", "--format=%D"])
        assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr
    assert not os.path.exists(root)  # the fallback root is removed like any other


def test_the_controller_runs_this_clustrix_sim_whatever_the_working_directory(tmp_path, monkeypatch):
    # `python -m` puts the working directory first on sys.path: a clustrix_sim there (another
    # checkout) must not replace the package this SimCluster comes from.
    shadow = tmp_path / "clustrix_sim"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the shadowing clustrix_sim was imported')\n")
    monkeypatch.chdir(tmp_path)
    with SimCluster(nodes=1, ssh=False) as sim:
        assert sim.call("ping")["pid"] == sim.controller_pid
        assert sim.run(["sinfo"]).returncode == 0
