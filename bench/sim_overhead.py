"""The simulator's own overhead per job: submit a job that runs ``true``, see it finished.

    python bench/sim_overhead.py [--n 20] [--schedulers slurm,pbs,torque,sge]

For each simulated scheduler (local mode: the cluster's tools on PATH, run with ``subprocess`` as
a client library or a shell would), one job after another:

  submit   ``sbatch --parsable job.sh`` / ``qsub job.sh`` / ``qsub -terse job.sh``
  poll     the scheduler's own query tool, back to back, until it shows the job finished:
           ``sacct -X -n -P -j ID -o State`` = COMPLETED (slurm), ``qstat -x ID`` state F (PBS
           Pro), ``qstat ID`` state C (Torque), ``qacct -j ID`` succeeds (Grid Engine)

The per-job overhead is the wall time from the start of the submit command to the end of the
first query that shows the job finished. The breakdown (medians and p90):

- tool client start-up: a tool invocation that never reaches the controller (an unknown option),
  paid once by the submit and once by every query;
- controller handling: the controller's own time serving the submit and the query requests (from
  its ``stats``; "n/a" on a simulator that does not report it);
- dispatch: submit -> start, from the scheduler's own timestamps;
- fork/exec + run: start -> the batch process exited (``true`` itself is ~1 ms of it);
- reap/accounting: the batch process exited -> its end is recorded and visible;
- core: the same job submitted and polled through the controller protocol, no tools at all
  (what the simulator costs a client that talks to it directly).

Also printed: the ratio of each scheduler's per-job overhead to slurm's. Figures, not assertions:
the machine may be shared, so the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from _sim_helpers import load_note  # bench/_sim_helpers.py, next to this script

TARGET_OVERHEAD_MS = 15.0
TARGET_RATIO_VS_SLURM = 1.5
POLL_DEADLINE_S = 30.0
TRUE_JOB = "#!/bin/sh\ntrue\n"


@dataclass(frozen=True)
class Flavor:
    """How one scheduler's tools submit a job and show it finished."""

    submit: tuple[str, ...]
    query: Callable[[str], list[str]]
    finished: Callable[[int, str], bool]
    unknown_option: tuple[str, ...]


def _last_row_state(out: str, state: str) -> bool:
    rows = [line.split() for line in out.strip().splitlines()]
    return bool(rows) and len(rows[-1]) >= 5 and rows[-1][4] == state


FLAVORS: dict[str, Flavor] = {
    "slurm": Flavor(("sbatch", "--parsable"), lambda j: ["sacct", "-X", "-n", "-P", "-j", j, "-o", "State"],
                    lambda rc, out: rc == 0 and out.strip() == "COMPLETED", ("sbatch", "--no-such-option")),
    "pbs": Flavor(("qsub",), lambda j: ["qstat", "-x", j],
                  lambda rc, out: rc == 0 and _last_row_state(out, "F"), ("qsub", "--no-such-option")),
    "torque": Flavor(("qsub",), lambda j: ["qstat", j],
                     lambda rc, out: rc == 0 and _last_row_state(out, "C"), ("qsub", "--no-such-option")),
    "sge": Flavor(("qsub", "-terse"), lambda j: ["qacct", "-j", j],
                  lambda rc, out: rc == 0 and "exit_status" in out, ("qsub", "--no-such-option")),
}


@dataclass
class JobSample:
    total_s: float
    submit_tool_s: float
    polls: int
    dispatch_s: float
    run_s: float
    handling_s: float | None
    exec_to_exit_s: float | None
    reap_s: float | None


def _timings(sim) -> dict | None:
    """The controller's cumulative timings (``stats``), or None when it does not keep them."""
    return sim.stats().get("timings")


def _delta(after: dict | None, before: dict | None, key: str) -> float | None:
    if after is None or before is None or key not in after:
        return None
    return after[key] - before.get(key, 0.0)


def run_one(sim, flavor: Flavor, script: str, work: str, env: dict[str, str]) -> JobSample:
    def tool(argv: Sequence[str]) -> subprocess.CompletedProcess:
        return subprocess.run([os.path.join(sim.bin_dir, argv[0]), *argv[1:]], env=env, cwd=work,
                              capture_output=True, text=True, check=False)

    before = _timings(sim)
    began = time.perf_counter()
    sub = tool([*flavor.submit, script])
    submitted = time.perf_counter()
    if sub.returncode != 0:
        raise RuntimeError(f"{flavor.submit[0]} failed ({sub.returncode}): {sub.stderr.strip()}")
    job_id = sub.stdout.strip().split(";")[0]
    polls = 0
    deadline = began + POLL_DEADLINE_S
    while True:
        polls += 1
        q = tool(flavor.query(job_id))
        if flavor.finished(q.returncode, q.stdout):
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"job {job_id} not shown finished after {POLL_DEADLINE_S:.0f} s: {q.stdout!r}")
    total = time.perf_counter() - began
    after = _timings(sim)
    rec = sim.job(int(job_id.split(".")[0]))
    return JobSample(total, submitted - began, polls, rec.start_time - rec.submit_time,
                     rec.end_time - rec.start_time, _delta(after, before, "handling_s"),
                     _delta(after, before, "exec_to_exit_s"), _delta(after, before, "reap_s"))


def core_overhead(sim, work: str, n: int) -> list[float]:
    """Submit + poll through the protocol (no tool processes): the simulator's core cost."""
    from clustrix_sim.engine.model import FINAL_STATES, JobRequest

    out = []
    for _ in range(n):
        req = JobRequest(script=TRUE_JOB, name="core", user=sim.user, uid=os.getuid(), work_dir=work)
        began = time.perf_counter()
        job_id = sim.call("submit", {"request": req.to_dict()}, tool="bench")["job_id"]
        while True:
            jobs = sim.call("accounting", {"job_ids": [job_id]})["jobs"]
            if jobs and jobs[0].get("state") in FINAL_STATES:
                break
            if time.perf_counter() - began > POLL_DEADLINE_S:
                raise RuntimeError(f"job {job_id} did not finish within {POLL_DEADLINE_S:.0f} s")
        out.append(time.perf_counter() - began)
    return out


def startup_floor(sim, flavor: Flavor, work: str, env: dict[str, str], n: int) -> list[float]:
    """A tool invocation that fails on its argv before reaching the controller."""
    path = os.path.join(sim.bin_dir, flavor.unknown_option[0])
    out = []
    for _ in range(n):
        began = time.perf_counter()
        proc = subprocess.run([path, *flavor.unknown_option[1:]], env=env, cwd=work, capture_output=True,
                              check=False)
        out.append(time.perf_counter() - began)
        if proc.returncode == 0:
            raise RuntimeError(f"{flavor.unknown_option} unexpectedly succeeded")
    return out


def ms(values: Sequence[float | None]) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "      n/a              "
    med = statistics.median(vals) * 1000
    p90 = statistics.quantiles(vals, n=10, method="inclusive")[-1] * 1000 if len(vals) >= 2 else med
    return f"{med:7.1f} ms (p90 {p90:6.1f})"


def bench(scheduler: str, n: int, warmup: int) -> tuple[list[str], float]:
    from clustrix_sim import SimCluster

    flavor = FLAVORS[scheduler]
    with tempfile.TemporaryDirectory(prefix="bench-simoh-") as work, \
            SimCluster(scheduler=scheduler, nodes=2, cores_per_node=4, ssh=False) as sim:
        env = {**os.environ, **sim.env()}
        script = os.path.join(work, "job.sh")
        with open(script, "w") as fh:
            fh.write(TRUE_JOB)
        for _ in range(warmup):
            run_one(sim, flavor, script, work, env)
        samples = [run_one(sim, flavor, script, work, env) for _ in range(n)]
        floor = startup_floor(sim, flavor, work, env, n)
        core = core_overhead(sim, work, n)
    total = statistics.median(s.total_s for s in samples)
    polls = statistics.median(s.polls for s in samples)
    lines = [
        f"{scheduler}: per-job overhead (submit `true` -> finished in {flavor.query('ID')[0]}) "
        f"{ms([s.total_s for s in samples])}   [{polls:.0f} quer{'y' if polls == 1 else 'ies'} median]",
        f"    submit tool wall                  {ms([s.submit_tool_s for s in samples])}",
        f"    tool client start-up (per call)   {ms(floor)}   (x{1 + polls:.0f} calls per job)",
        f"    controller handling (all calls)   {ms([s.handling_s for s in samples])}",
        f"    dispatch  submit -> start         {ms([s.dispatch_s for s in samples])}",
        f"    run       start -> end            {ms([s.run_s for s in samples])}",
        f"      fork/exec + `true` -> exit      {ms([s.exec_to_exit_s for s in samples])}",
        f"      reap/accounting exit -> record  {ms([s.reap_s for s in samples])}",
        f"    core: protocol submit -> finished {ms(core)}   (no tool processes)",
    ]
    return lines, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="measured jobs per scheduler (default 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--schedulers", default="slurm,pbs,torque,sge")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.schedulers.split(",") if s.strip()]
    unknown = [s for s in names if s not in FLAVORS]
    if unknown or args.n < 1 or args.warmup < 0:
        parser.error(f"unknown scheduler(s) {unknown}; choose from {sorted(FLAVORS)}; --n >= 1, --warmup >= 0")
    print(f"simulator overhead per job, {args.n} jobs each after {args.warmup} warm-up; {load_note()}")
    totals: dict[str, float] = {}
    for name in names:
        lines, totals[name] = bench(name, args.n, args.warmup)
        print("\n".join(lines), flush=True)
    print()
    for name, total in totals.items():
        line = f"target: {name:<6} per-job overhead < {TARGET_OVERHEAD_MS:.0f} ms  -> {total * 1000:7.1f} ms"
        if "slurm" in totals and name != "slurm":
            ratio = total / totals["slurm"]
            line += f"   {ratio:4.2f}x slurm (target <= {TARGET_RATIO_VS_SLURM}x)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
