"""Play a fidelity scenario against one Slurm (real, or a simulator) and normalize it.

``python tests/clustrix_sim/slurm/fidelity/fidelity_runner.py [--version 22.05|24.11] [--write]
[SCENARIO...]`` plays the scenarios on real Slurm (22.05: this host's, ``host_slurm.sh start``
first; 24.11: the container of ``container_slurm.py start``) and on the simulator answering as
the same release, prints how many outputs differ, and with ``--write`` saves the real side as
golden files in ``tests/data/slurm_real/<version>/`` (``fidelity_golden.py``), the files the CI
test holds the simulator against.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fidelity_normalize import Output, Site, normalize_all

WAIT_DEADLINE_S = 180.0
POLL_S = 0.1
FINAL_WORDS = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
               "PREEMPTED", "BOOT_FAIL", "DEADLINE")
ACTIVE_WORDS = ("PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED", "CONFIGURING")

Run = Callable[[list[str], str], subprocess.CompletedProcess]


@dataclass
class Target:
    """One Slurm: how to run a tool (argv, cwd), its clock, its host and user names."""

    run: Run
    now: Callable[[], float]
    hosts: tuple[str, ...]
    users: tuple[str, ...]
    work_root: str | None = None  # where work directories go (one the tools' side sees too)


def real_target(version: str = "22.05") -> Target:
    """22.05: the tools on this host's PATH; 24.11: the tools in the fidelity container."""
    import getpass
    import socket

    if version == "24.11":
        import container_slurm
        return Target(container_slurm.run, time.time, (container_slurm.HOST,), ("root",),
                      work_root=str(container_slurm.SHARED))

    def run(argv: list[str], cwd: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    return Target(run, time.time, (socket.gethostname(),), (getpass.getuser(),))


def sim_target(sim) -> Target:  # noqa: ANN001 - a started SimCluster
    def run(argv: list[str], cwd: str) -> subprocess.CompletedProcess:
        return sim.run(argv, cwd=cwd, timeout_s=60)
    hosts = tuple(n.name for n in sim.config.nodes)
    return Target(run, lambda: float(sim.call("info")["now"]), hosts, (sim.user,))


@dataclass
class Play:
    """A played scenario: outputs as printed, the job ids it made, its work directory."""

    outputs: list[Output] = field(default_factory=list)
    job_ids: list[int] = field(default_factory=list)
    work_dir: str = ""

    def normalized(self, target: Target) -> list[Output]:
        return normalize_all(self.outputs, Site(tuple(self.job_ids), target.hosts, target.users, self.work_dir))


def _words(template: str, play: Play, start: str) -> list[str]:
    names = {f"J{i}": str(job) for i, job in enumerate(play.job_ids, start=1)}
    names["ALL"] = ",".join(str(j) for j in play.job_ids) or "0"
    names["START"] = start
    return [w.format(**names) for w in shlex.split(template)]


def _lines(target: Target, argv: list[str], cwd: str) -> list[str]:
    return [line.strip() for line in target.run(argv, cwd).stdout.splitlines() if line.strip()]


def condition_met(target: Target, job: str, condition: str, cwd: str) -> bool:
    """One look at ``condition`` (``final``, ``running:N``, ``reason:R``) for ``job``."""
    if condition == "final":
        queue = _lines(target, ["squeue", "-h", "-r", "-t", "all", "-j", job, "-o", "%T"], cwd)
        acct = _lines(target, ["sacct", "-n", "-P", "-o", "JobID,State", "-j", job], cwd)
        states = [line.split("|", 1)[1] for line in acct]
        jobs_final = [s for line, s in zip(acct, states, strict=True) if "." not in line.split("|")[0]]
        if not (jobs_final and all(s.startswith(FINAL_WORDS) for s in states)
                and not any(s.startswith(ACTIVE_WORDS) for s in queue)):
            return False
        # settled: accounting names and states the jobs as the controller does (real sacct lags)
        shown = _lines(target, ["squeue", "-h", "-r", "-t", "all", "-j", job, "-o", "%i|%j|%T"], cwd)
        accounted = _lines(target, ["sacct", "-X", "-n", "-P", "-o", "JobID,JobName,State", "-j", job], cwd)
        acct = {task: row.split("|", 1)[1].split(" ")[0] for row in accounted for task in _tasks(row)}
        return all(acct.get(row.split("|")[0]) == row.split("|", 1)[1] for row in shown)
    kind, _, value = condition.partition(":")
    if kind == "running":
        running = _lines(target, ["squeue", "-h", "-r", "-t", "R", "-j", job, "-o", "%i"], cwd)
        return len(running) == int(value)
    if kind == "reason":
        reasons = _lines(target, ["squeue", "-h", "-r", "-j", job, "-o", "%r"], cwd)
        return bool(reasons) and all(r == value for r in reasons)
    raise ValueError(f"unknown wait condition {condition!r}")


def _tasks(row: str) -> list[str]:
    """The ids an accounting row stands for: ``5``, ``5_2``, or ``5_[3-4%2]`` -> ``5_3``, ``5_4``."""
    job_id = row.split("|")[0]
    base, _, rest = job_id.partition("_[")
    if not rest:
        return [job_id]
    tasks = []
    for item in rest.rstrip("]").split("%")[0].split(","):
        low, _, high = item.partition("-")
        tasks += [f"{base}_{i}" for i in range(int(low), int(high or low) + 1)]
    return tasks


def wait(target: Target, job: str, condition: str, cwd: str, deadline_s: float = WAIT_DEADLINE_S) -> bool:
    deadline = time.monotonic() + deadline_s
    while not condition_met(target, job, condition, cwd):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def play(steps: list[tuple[str, ...]], target: Target, final_queries=()) -> Play:  # noqa: ANN001
    """Run ``steps``, wait for every job to be final and accounted, run ``final_queries``."""
    result = Play(work_dir=tempfile.mkdtemp(prefix="fidelity-", dir=target.work_root))
    began = int(target.now())
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(began))
    try:
        for step in steps:
            _step(step, target, result, start)
        for job in list(result.job_ids):  # settle (not compared): the final queries see the end
            wait(target, str(job), "final", result.work_dir)
        for step in final_queries:
            _step(step, target, result, start)
        result.job_ids.extend(_other_ids(target, result, start))
    finally:
        shutil.rmtree(result.work_dir, ignore_errors=True)
    return result


def _step(step: tuple[str, ...], target: Target, result: Play, start: str) -> None:
    kind, cwd = step[0], result.work_dir
    if kind == "file":
        with open(os.path.join(cwd, step[1]), "w") as fh:
            fh.write(step[2])
    elif kind == "wait":
        met = wait(target, _words(step[1], result, start)[0], step[2], cwd)
        result.outputs.append(Output(f"wait {step[1]} {step[2]}", 0 if met else 1, "", ""))
    elif kind == "run":
        argv = _words(step[1], result, start)
        done = target.run(argv, cwd)
        result.outputs.append(Output(step[1], done.returncode, done.stdout, done.stderr))
        last = (done.stdout.split() or [""])[-1].split(";")[0]
        if argv[0] == "sbatch" and done.returncode == 0 and last.isdigit():  # not --version
            result.job_ids.append(int(last))
    else:
        raise ValueError(f"unknown step kind {kind!r}")


def _other_ids(target: Target, result: Play, start: str) -> list[int]:
    """Ids the scenario made that sbatch did not print: array tasks (real Slurm numbers them when
    they start) and refused submissions accounting keeps; from sacct's JobIDRaw."""
    queries = [["sacct", "-n", "-P", "-X", "-o", "JobIDRaw", "-S", start]]
    if result.job_ids:
        queries.append(["sacct", "-n", "-P", "-X", "-o", "JobIDRaw", "-j", ",".join(map(str, result.job_ids))])
    raw = [line for argv in queries for line in _lines(target, argv, result.work_dir)]
    return sorted({int(r) for r in raw if r.isdigit()} - set(result.job_ids))


def wait_until_idle(target: Target, cwd: str | None = None) -> None:
    """Before a scenario on a shared Slurm: no job of ours still active, and a fresh second."""
    deadline = time.monotonic() + WAIT_DEADLINE_S
    while any(s.startswith(ACTIVE_WORDS) for s in _lines(target, ["squeue", "-h", "-o", "%T"], cwd)):
        if time.monotonic() >= deadline:
            raise TimeoutError("the real Slurm queue did not drain")
        time.sleep(POLL_S)
    second = int(target.now())
    while int(target.now()) == second:
        time.sleep(POLL_S)


def play_on_sim(steps: list[tuple[str, ...]], final_queries, site, options: Mapping[str, object]) -> list[Output]:  # noqa: ANN001
    from clustrix_sim.cluster import SimCluster

    with SimCluster(ssh=False, site=site, **options) as sim:  # type: ignore[arg-type]
        target = sim_target(sim)
        return play(steps, target, final_queries).normalized(target)


def play_on_real(steps: list[tuple[str, ...]], final_queries, version: str = "22.05") -> list[Output]:  # noqa: ANN001
    target = real_target(version)
    wait_until_idle(target)
    return play(steps, target, final_queries).normalized(target)


def real_slurm_available(version: str = "22.05") -> str | None:
    """None when real Slurm ``version`` answers as the fidelity site; otherwise why not."""
    if version == "24.11":
        import container_slurm
        if shutil.which("docker") is None:
            return "no docker command for the Slurm 24.11 container"
        if not container_slurm.running():
            return f"the Slurm 24.11 container is not up (run {container_slurm.START_COMMAND})"
        return None
    if shutil.which("scontrol") is None or shutil.which("sacct") is None:
        return "no real Slurm tools on PATH"
    try:
        ping = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"scontrol show config failed: {exc}"
    if ping.returncode != 0 or "ClusterName             = simcluster" not in ping.stdout or \
            "SLURM_VERSION           = 22.05" not in ping.stdout:
        return "real Slurm is not up as the fidelity site (run tests/clustrix_sim/slurm/fidelity/host_slurm.sh)"
    if os.geteuid() != 0:
        return "the fidelity site runs jobs as root"
    return None


if __name__ == "__main__":
    from fidelity_golden import main

    raise SystemExit(main())
