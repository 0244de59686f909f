"""The fidelity scenarios, as data: scripted commands run on real Slurm and on the simulator.

A scenario is a name and a list of steps; every step is a tuple:

- ``("file", NAME, TEXT)``: write a file in the scenario's work directory (not compared);
- ``("run", COMMAND)``: run a command (shell words, ``{J1}``.. are the scenario's job ids in
  submission order, ``{ALL}`` all of them joined by commas, ``{START}`` the site's clock when the
  scenario began); its exit code, stdout and stderr are compared. A ``sbatch`` that succeeds
  adds its job id to the list;
- ``("wait", JOB, CONDITION)``: poll until ``CONDITION`` holds for ``JOB`` (``final``: it and its
  steps are finished and accounted; ``running:N``: N of its tasks run; ``reason:R``: it pends
  for reason R), within a deadline. The outcome (met or not) is compared too.

Every scenario ends with :data:`FINAL_QUERIES`: once all its jobs are final, the queries that
clustrix, submitit, parsl, psij and a person at a terminal run, over all its jobs.

The site both sides run is :data:`SITE` (one ``SlurmSite``: the simulator runs it, and real
Slurm's slurm.conf is rendered from it — ``host_slurm.sh`` for 22.05 on this host,
``container_slurm.py`` for 24.11 in a container): cluster ``simcluster``, one node with 2 CPUs
and 16000 MB, partition ``normal`` (default, MaxTime=INFINITE), ``CR_Core_Memory`` with no
DefMemPerCPU, no PrologFlags, MinJobAge=300, MaxArraySize=1001, FirstJobId=100000, account
``root``. ``python fidelity_scenarios.py render VERSION HOST [PID_DIR]`` prints its slurm.conf.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the checkout, for host_slurm.sh's python3

from clustrix_sim.slurm.site import SlurmSite  # noqa: E402

VERSIONS = ("22.05", "24.11")
SITE = SlurmSite(cluster_name="simcluster", nodes=1, cpus_per_node=2, real_memory_mb=16000,
                 first_job_id=100000, default_account="root", min_job_age_s=300, max_array_size=1001)
SIM_OPTIONS = {"time_scale": 30.0}  # the simulator's clock runs fast; real Slurm's cannot


def site_for(version: str) -> SlurmSite:
    """The fidelity site as Slurm ``version`` runs it."""
    return dataclasses.replace(SITE, slurm_version=version)

JOB_SCRIPT = """#!/bin/bash
#SBATCH --job-name=scripted
#SBATCH --output=out-%j.txt
#SBATCH --error=err-%j.txt
#SBATCH --time=00:05:00
#SBATCH --mem=100M
#SBATCH --cpus-per-task=2
echo "task ${SLURM_ARRAY_TASK_ID:-none} on ${SLURM_CPUS_PER_TASK}"
"""

FINAL_QUERIES: tuple[tuple[str, ...], ...] = (
    ("run", "squeue -j {ALL}"),
    ("run", "squeue -t all -j {ALL}"),
    ("run", "squeue --noheader --array --states=all --jobs={ALL} --format=%i|%T|%r"),  # clustrix
    ("run", "squeue --noheader --format='%i %t' --job {ALL}"),  # parsl fallback
    ("run", "squeue -O JobArrayID,StateCompact,Reason -t all -j {ALL}"),  # psij
    ("run", "sacct -j {ALL}"),
    ("run", "sacct -X -j {ALL}"),
    ("run", "sacct -P -j {ALL}"),
    ("run", "sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,Reason --jobs={ALL}"),
    ("run", "sacct -o JobID,State,NodeList --parsable2 -j {ALL}"),  # submitit
    ("run", "sacct -X --noheader --format=jobid,state%20 --job {ALL}"),  # parsl
    ("run", "sacct -X -n -P -o JobID,JobIDRaw,JobName,Partition,Account,AllocCPUS,State,ExitCode -j {ALL}"),
    ("run", "sacct -S {START} -o JobID,JobName,State,ExitCode"),
)

SCENARIOS: dict[str, list[tuple[str, ...]]] = {
    "basic": [
        ("run", "sbatch --wrap 'echo hi'"),
        ("run", "sbatch --parsable -J failing --wrap 'exit 3'"),
        ("file", "job.sh", JOB_SCRIPT),
        ("run", "sbatch job.sh"),
        ("wait", "{J1}", "final"),
        ("wait", "{J2}", "final"),
        ("wait", "{J3}", "final"),
        ("run", "cat slurm-{J1}.out out-{J3}.txt"),
        ("run", "scontrol show job {J1}"),
        ("run", "scontrol show job {J2}"),
        ("run", "scontrol show job {J3}"),
        ("run", "sinfo"),
    ],
    "usage_errors": [
        ("run", "sbatch --no-such-option --wrap true"),
        ("run", "sbatch --time=abc --wrap true"),
        ("run", "sbatch -p nosuch --wrap true"),
        ("run", "sbatch --mem=999999 --wrap true"),
        ("run", "sbatch --array=0-5000 --wrap true"),
        ("run", "sbatch --dependency=afterok:999999 --wrap true"),
        ("run", "sbatch no-such-script.sh"),
        ("run", "squeue -j 999999"),
        ("run", "squeue --no-such-option"),
        ("run", "sacct -j 999999"),
        ("run", "sacct --format=NoSuchField"),
        ("run", "scontrol show job 999999"),
        ("run", "scancel 999999"),
        ("run", "scancel -v 999999"),
        ("run", "sbatch --wrap true"),
        ("wait", "{J1}", "final"),
    ],
    "array_limit": [
        ("run", "sbatch --array=1-4%2 --mem=100M --wrap 'sleep 120'"),
        ("wait", "{J1}", "running:2"),
        ("run", "squeue -j {J1}"),
        ("run", "squeue -r -j {J1}"),
        ("run", "scontrol show job {J1}"),
        ("run", "scancel {J1}"),
        ("wait", "{J1}", "final"),
        ("run", "scontrol show job {J1}"),
    ],
    "dependencies": [
        ("run", "sbatch --hold --wrap true"),
        ("run", "sbatch --dependency=afterok:{J1} --wrap true"),
        ("run", "sbatch --wrap 'exit 1'"),
        ("run", "sbatch -d afterok:{J3} --wrap true"),
        ("wait", "{J3}", "final"),
        ("wait", "{J4}", "reason:DependencyNeverSatisfied"),
        ("run", "squeue -j {ALL}"),
        ("run", "scontrol show job {J1}"),
        ("run", "scontrol show job {J2}"),
        ("run", "scontrol show job {J4}"),
        ("run", "scontrol release {J1}"),
        ("wait", "{J1}", "final"),
        ("wait", "{J2}", "final"),
        ("run", "scancel -v {J4}"),
        ("wait", "{J4}", "final"),
        ("run", "scontrol show job {J4}"),
    ],
    "cancel_and_memory": [
        ("run", "sbatch --wrap 'sleep 120'"),
        ("run", "sbatch -c 1 --wrap true"),
        ("wait", "{J1}", "running:1"),
        ("wait", "{J2}", "reason:Resources"),
        ("run", "squeue"),
        ("run", "squeue -j {ALL} -o '%.18i %.9P %.8j %.2t %.10M %.6D %R %m'"),
        ("run", "scontrol show job {J1}"),
        ("run", "scontrol show job {J2}"),
        ("run", "scancel -v {J2}"),
        ("run", "scancel {J1}"),
        ("wait", "{J1}", "final"),
        ("wait", "{J2}", "final"),
        ("run", "sacct -X -S {START} -o JobID,State,ExitCode"),
        ("run", "scontrol show job {J1}"),
        ("run", "scontrol show job {J2}"),
    ],
    "releases": [  # what one release has and the other lacks (options, columns)
        ("run", "sbatch --version"),
        ("run", "sbatch --wrap 'sleep 120'"),
        ("wait", "{J1}", "running:1"),
        ("run", "squeue --only-job-state -j {J1}"),
        ("run", "scancel --ctld 999999"),
        ("run", "scancel {J1}"),
        ("wait", "{J1}", "final"),
        ("run", "sacct --array -X -j {J1} -o JobID,State"),
        ("run", "sacct -X -o JobID,JobIDRaw,JobName -j {J1}"),
        ("run", "sbatch --tres-per-task=cpu=1 --wrap true"),
    ],
    "timeout": [
        ("run", "sbatch --time=1 --wrap 'sleep 600'"),
        ("wait", "{J1}", "final"),
        ("run", "scontrol show job {J1}"),
    ],
}


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] != "render":
        raise SystemExit("usage: fidelity_scenarios.py render VERSION HOST [PID_DIR]")
    sys.stdout.write(site_for(sys.argv[2]).render_slurm_conf(sys.argv[3], run_dir=(sys.argv[4:] or ["/run"])[0]))
