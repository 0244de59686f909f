"""@cluster on the simulated SLURM cluster over real SSH: the full remote path, end to end."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import clustrix
from clustrix import config as cfg
from clustrix.api.decorator import cluster, shutdown_executors
from clustrix.api.executor import IN_JOB_ENV, ClusterExecutor


@cluster(cores=1, memory="100M", time="5m")
def square(x: int) -> int:
    print(f"square {x}")
    return x * x


@cluster
def fails() -> None:
    raise KeyError("x")


@cluster
def job_pid() -> int:
    return os.getpid()


@cluster
def nested() -> tuple[int, int, str | None]:
    return os.getpid(), job_pid(), os.environ.get(IN_JOB_ENV)


@pytest.fixture(scope="module")
def sim_profile(tmp_path_factory: pytest.TempPathFactory):
    from clustrix_sim.cluster import SimCluster

    # The job imports the clustrix under test, not whichever one the interpreter has installed
    # (the simulated login node's environment is clean).
    root = os.path.dirname(os.path.dirname(os.path.abspath(clustrix.__file__)))
    with SimCluster(nodes=2, ssh=True) as sim:
        yield {**sim.profile(), "env": {"PYTHONPATH": root}}


@pytest.fixture(autouse=True)
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CLUSTRIX_CONFIG", raising=False)
    monkeypatch.delenv("CLUSTRIX_PROFILE", raising=False)
    monkeypatch.delenv(IN_JOB_ENV, raising=False)
    cfg.reset_config()
    session = cfg.set_session_profile(None)
    yield
    shutdown_executors(wait=True)
    cfg.reset_config()
    cfg.set_session_profile(session)


def test_decorator_on_simulated_slurm(sim_profile) -> None:
    with cfg.use_profile(sim_profile) as profile:
        assert profile.backend == "slurm"
        assert square(3) == 9
        assert square.map(range(5)) == [0, 1, 4, 9, 16]
        with pytest.raises(KeyError) as info:
            fails()
        assert "fails" in str(info.value.__cause__)  # the remote traceback
        fut = square.submit(7)
        assert fut.result(timeout=120) == 49
        assert fut.job_id.isdigit()
        assert fut.stdout() == "square 7\n"
        # The ledger names the user's function, not the executor's wrapper around it.
        from clustrix.backends.ledger import Ledger

        assert Ledger(profile.ledger).find(fut.job_id).function.endswith("test_decorator_sim.square")
        outer, inner, flag = nested()
    # The nested decorated call ran inside the same job, not as a job submitted from a node.
    assert outer == inner != os.getpid()
    assert flag == "1"


def test_executor_on_simulated_slurm(sim_profile) -> None:
    with ClusterExecutor(sim_profile, memory="200M") as ex:
        assert list(ex.map(pow, [2, 3], [2, 3])) == [4, 27]
        futures = ex.submit_array(len, [(1, 2, 3), "ab"])
        assert [f.result(timeout=120) for f in futures] == [3, 2]
        # One array job: every task's id starts with the array's job id.
        assert len({re.match(r"\d+", f.job_id).group() for f in futures}) == 1
