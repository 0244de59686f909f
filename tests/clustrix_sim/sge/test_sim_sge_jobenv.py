"""A simulated Grid Engine job starts with the environment a real 8.1.9 job has
(``tests/data/sge_real/jobenv.txt``, captured from ``qsub -b y env``), and ``#$`` directives,
``-C`` and ``-S`` act as in the real qsub."""

from __future__ import annotations

import os

import pytest

from clustrix_sim.cluster import SimCluster

REAL_ENV = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "data", "sge_real", "jobenv.txt")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimCluster(scheduler="sge", nodes=1, cores_per_node=2, ssh=False,
                    root=str(tmp_path_factory.mktemp("sge-env"))) as cluster:
        yield cluster


def submit(sim, tmp_path, *argv: str) -> str:
    env = {"HOME": str(tmp_path)}
    done = sim.run(["qsub", "-terse", *argv], cwd=str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    job = done.stdout.strip().split(".")[0]
    sim.wait_for(lambda: sim.run(["qacct", "-j", job]).returncode == 0, 60, f"job {job} in accounting")
    return job


def read_env(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_job_environment_has_the_real_variables(sim, tmp_path):
    job = submit(sim, tmp_path, "-cwd", "-o", "env.txt", "-j", "y", "-b", "y", "env")
    env = read_env(tmp_path / "env.txt")
    with open(REAL_ENV) as fh:
        real = dict(line.rstrip("\n").split("=", 1) for line in fh if "=" in line)
    assert sorted(set(real) - set(env)) == [], "variables a real job has and the simulated one lacks"
    for key in ("SGE_TASK_ID", "SGE_TASK_FIRST", "SGE_TASK_LAST", "SGE_TASK_STEPSIZE", "NSLOTS", "NHOSTS",
                "QUEUE", "ENVIRONMENT", "PATH", "SHELL", "SGE_STDIN_PATH", "RESTARTED", "SGE_ACCOUNT"):
        assert env[key] == real[key], key
    assert env["JOB_ID"] == job and env["TMP"] == env["TMPDIR"] == f"/tmp/{job}.1.all.q"  # noqa: S108 - the real path
    assert os.path.isdir(env["TMPDIR"]) and env["SGE_O_WORKDIR"] == env["PWD"] == str(tmp_path)


def test_directives_prefix_shell_and_pe(sim, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/false\n#% -N renamed\n#% -pe smp 2\n#% -o out.txt\n"
                      'echo "$JOB_NAME $NSLOTS $PE $0"\n')
    job = submit(sim, tmp_path, "-C", "#%", "-S", "/bin/bash", "-cwd", str(script))
    name, slots, pe, _ = (tmp_path / "out.txt").read_text().split()
    assert (name, slots, pe) == ("renamed", "2", "smp")  # -S ran it: the #! line is ignored
    accounting = sim.run(["qacct", "-j", job]).stdout
    assert "granted_pe   smp" in accounting and "category     -pe smp 2" in accounting


def test_relative_output_without_cwd_lands_in_home(sim, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    done = sim.run(["qsub", "-terse", "-o", "o.txt", "-j", "y", "-b", "y", "echo hi"], cwd=str(work),
                   env={"HOME": str(home)})
    job = done.stdout.strip()
    sim.wait_for(lambda: sim.run(["qacct", "-j", job]).returncode == 0, 60, f"job {job} in accounting")
    assert (home / "o.txt").read_text() == "hi\n" and not (work / "o.txt").exists()
