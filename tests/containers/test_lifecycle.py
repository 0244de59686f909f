"""Containers come and go cleanly: cached images, crash of the owner, stale sweep, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clustrix_sim.containers import DockerCluster, DockerUnavailable
from clustrix_sim.containers.engine import (
    LABEL,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_OWNER_START,
    docker_client,
    owner_labels,
    sweep_stale,
)
from clustrix_sim.containers.images import ensure_image

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 120


def wait_until(predicate, what: str, timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.1)


def labelled(client, **labels) -> list:
    flt = [LABEL] + [f"{k}={v}" for k, v in labels.items()]
    return client.containers.list(all=True, filters={"label": flt})


def test_a_built_image_is_reused(docker_client):
    ensure_image(docker_client, "slurm")
    again = ensure_image(docker_client, "slurm")
    assert again.built == ()  # same recipes, same wheel: nothing rebuilt


def test_the_container_goes_away_when_its_owner_is_killed(docker_client, tmp_path):
    script = textwrap.dedent("""
        import sys, time
        from clustrix_sim.containers import DockerCluster
        c = DockerCluster("slurm", simulated=True).start()
        print(c.container.name, flush=True)
        time.sleep(600)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        name = proc.stdout.readline().strip()
        assert name, "the child did not start its container"
        assert labelled(docker_client, **{LABEL_OWNER_PID: proc.pid})
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    wait_until(lambda: not labelled(docker_client, **{LABEL_OWNER_PID: proc.pid}),
               "the dead owner's container to disappear")


def test_stale_containers_of_dead_owners_are_swept(docker_client):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    labels = {**owner_labels(), LABEL_OWNER_PID: str(dead.pid), LABEL_OWNER_START: "1"}
    image = ensure_image(docker_client, "sim").tag
    stale = docker_client.containers.create(image, labels=labels, entrypoint=["true"])
    mine = docker_client.containers.create(image, labels=owner_labels(), entrypoint=["true"])
    try:
        removed = sweep_stale(docker_client)
        assert stale.name in removed and mine.name not in removed
        assert [c.name for c in labelled(docker_client, **{LABEL_OWNER_PID: dead.pid})] == []
        assert labels[LABEL_OWNER_HOST] == mine.labels[LABEL_OWNER_HOST]
    finally:
        mine.remove(force=True)


def test_stop_removes_everything_and_the_key_directory(docker_client):
    c = DockerCluster("slurm", simulated=True).start()
    name, root = c.container.name, c.root
    assert c.run(["sinfo", "-h", "-o", "%P"]).stdout.strip() == "normal*"
    c.stop()
    assert name not in [x.name for x in labelled(docker_client, **{LABEL_OWNER_PID: os.getpid()})]
    assert not os.path.exists(root)


def test_simulator_in_a_container_runs_clustrix_jobs(docker_client):
    from clustrix.api.executor import ClusterExecutor
    from clustrix.config.profile import Profile

    with DockerCluster("slurm", simulated=True) as c, \
            ClusterExecutor(Profile.from_mapping(c.profile(), name="sim-docker")) as ex:
        assert list(ex.map(abs, [-1, -2, 3], timeout=DEADLINE_S)) == [1, 2, 3]


def test_no_engine_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DockerUnavailable, match="no Docker engine is reachable at unix:///nonexistent"):
        docker_client()


def test_unknown_scheduler_names_the_choices():
    with pytest.raises(ValueError, match="slurm, sge"):
        DockerCluster("lsf", simulated=False)
