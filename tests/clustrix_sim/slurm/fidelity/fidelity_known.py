"""Differences between the simulator and real Slurm (22.05, 24.11) that remain, each with its reason.

Keys are ``"<command as in the scenario>: <rc|stdout|stderr>"`` per release and scenario; the golden test
requires exactly these to differ (a fixed one must be removed here).

All remaining ones come from one modelling choice. Real Slurm gives an array task its own job id
only when the task starts; the tasks that never started stay in the array's own record, which
keeps the array's id (``JobId=<array id> ArrayTaskId=3-4%2``) and comes first in ``scontrol``
and ``squeue -t all`` (slurmctld's job list order through squeue's sort, which does not keep ties
in id order). It is also left out of a time-window ``sacct -S`` once cancelled. The simulator
numbers every task at submission (the first task keeps the array's id), so raw task ids
(``scontrol``'s ``JobId=``, ``sacct``'s ``JobIDRaw``) and the order of equal-priority array rows
differ. Clients read ``JobID`` (``123_4``) and ``ArrayTaskId``, which agree; changing the
simulator's numbering would touch every engine path that indexes jobs by id.

24.11.5 (Debian trixie, in the ``clustrix-slurm2411`` container with accounting) differs from
22.05.8 in these scenarios, and the simulator answers as either (``slurm_version``): every job's
priority is 1 (priority/multifactor is the default PriorityType; held 0), so squeue lists
equal-state rows newest first; ``scontrol show job`` has ``ReqTRES=``/``AllocTRES=`` instead of
``TRES=``, no ``Power=``, ``TresPerTask=cpu=N`` after an explicit ``--cpus-per-task``, and
``NumNodes=1-1`` for a held job; sacct's AllocCPUS is 0 for a job that never ran; ``sbatch -d
afterok:<unknown job>`` is refused (``Job dependency problem``, exit 1); ``--version`` says
``slurm 24.11.5``; ``--only-job-state``, ``--tres-per-task``, ``scancel -c``, ``sacct --array``
and ``scontrol --json`` exist only in 24.11 (scenario ``releases``). Both releases print sacct's
unknown-option line without squeue's ``Try`` hint, and JobIDRaw left-aligned. What stays different for 24.11 is the array modelling above and one race in
real Slurm of both releases that the 24.11 golden file happened to catch (``_KILL_RACE``).
"""

from __future__ import annotations

_ARRAY_IDS = ("array tasks are numbered at submission in the simulator, when they start in "
              "real Slurm (see the module docstring)")
_ARRAY_ORDER = ("the array's unstarted tasks are the array's own record in real Slurm, listed "
                "first among equal-priority rows (see the module docstring)")

_PACKAGE_NAME = ("Debian's build prints its package name (slurm-wlm 22.05.8); SchedMD's builds, which most "
                 "sites run, print slurm 22.05.8, as the simulator does; clients read the number")

KNOWN_2205: dict[str, dict[str, str]] = {
    "releases": {"sbatch --version: stdout": _PACKAGE_NAME},
    "array_limit": {
        "scontrol show job {J1}: stdout": _ARRAY_IDS,
        "squeue -t all -j {ALL}: stdout": _ARRAY_ORDER,
        "squeue --noheader --array --states=all --jobs={ALL} --format=%i|%T|%r: stdout": _ARRAY_ORDER,
        "squeue -O JobArrayID,StateCompact,Reason -t all -j {ALL}: stdout": _ARRAY_ORDER,
        "sacct -X -n -P -o JobID,JobIDRaw,JobName,Partition,Account,AllocCPUS,State,ExitCode -j {ALL}: stdout":
            _ARRAY_IDS,
        "sacct -S {START} -o JobID,JobName,State,ExitCode: stdout":
            "real sacct leaves a cancelled array's never-started record out of a time window",
    },
}

# Outputs whose real answer depends on timing inside real Slurm, so a live run may differ from
# the golden file (the golden test still holds the simulator to the recorded answer).
REAL_TIMING_2205: dict[str, dict[str, str]] = {
    "dependencies": {
        "sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,Reason --jobs={ALL}: stdout":
            "accounting stores a pending reason when slurmctld next writes the job's row, so a job "
            "cancelled after its dependency failed shows Dependency or DependencyNeverSatisfied",
    },
}


_KILL_RACE = ("real Slurm records a batch step killed by SIGTERM (scancel, time limit) either as CANCELLED "
              "0:15 (scontrol ExitCode=0:15) or as FAILED 15:0 (ExitCode=143:0), 22.05 and 24.11 alike: "
              "live runs on both gave both, as did two tasks of one array in one run; the simulator "
              "answers the first way, and the 24.11 golden file caught the second")
_KILL_OUTPUTS = ("sacct -j {ALL}: stdout", "sacct -P -j {ALL}: stdout",
                 "sacct -o JobID,State,NodeList --parsable2 -j {ALL}: stdout",
                 "sacct -S {START} -o JobID,JobName,State,ExitCode: stdout")
_DEPENDENCY_REASON = ("accounting stores a pending reason when slurmctld next writes the job's row, so a job "
                      "cancelled after its dependency failed shows None, Dependency or DependencyNeverSatisfied")

KNOWN_2411: dict[str, dict[str, str]] = {
    "releases": {"sbatch --version: stdout": _PACKAGE_NAME.replace("22.05.8", "24.11.5")},
    "array_limit": {
        "scontrol show job {J1}: stdout": _ARRAY_IDS,
        "squeue -t all -j {ALL}: stdout": _ARRAY_ORDER,
        "squeue --noheader --array --states=all --jobs={ALL} --format=%i|%T|%r: stdout": _ARRAY_ORDER,
        "squeue -O JobArrayID,StateCompact,Reason -t all -j {ALL}: stdout": _ARRAY_ORDER,
        "sacct -X -n -P -o JobID,JobIDRaw,JobName,Partition,Account,AllocCPUS,State,ExitCode -j {ALL}: stdout":
            _ARRAY_IDS,
        "sacct -j {ALL}: stdout": _KILL_RACE,
        "sacct -P -j {ALL}: stdout": _KILL_RACE,
        "sacct -o JobID,State,NodeList --parsable2 -j {ALL}: stdout": _KILL_RACE,
        "sacct -S {START} -o JobID,JobName,State,ExitCode: stdout":
            _KILL_RACE + "; and real sacct leaves a cancelled array's never-started record out of a time window",
    },
    "cancel_and_memory": {"scontrol show job {J1}: stdout": _KILL_RACE, **dict.fromkeys(_KILL_OUTPUTS, _KILL_RACE)},
    "timeout": {"scontrol show job {J1}: stdout": _KILL_RACE, **dict.fromkeys(_KILL_OUTPUTS, _KILL_RACE)},
    "dependencies": {
        "sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,Reason --jobs={ALL}: stdout":
            _DEPENDENCY_REASON,
    },
}

KNOWN = {"22.05": KNOWN_2205, "24.11": KNOWN_2411}
_KILL_RACE_OUTPUTS = {
    "array_limit": dict.fromkeys(_KILL_OUTPUTS, _KILL_RACE),
    "cancel_and_memory": {"scontrol show job {J1}: stdout": _KILL_RACE, **dict.fromkeys(_KILL_OUTPUTS, _KILL_RACE)},
    "timeout": {"scontrol show job {J1}: stdout": _KILL_RACE, **dict.fromkeys(_KILL_OUTPUTS, _KILL_RACE)},
}
REAL_TIMING = {
    "22.05": {name: {**REAL_TIMING_2205.get(name, {}), **_KILL_RACE_OUTPUTS.get(name, {})}
              for name in {*REAL_TIMING_2205, *_KILL_RACE_OUTPUTS}},
    "24.11": {**_KILL_RACE_OUTPUTS, "dependencies": {
        "sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,Reason --jobs={ALL}: stdout":
            _DEPENDENCY_REASON}},
}


def known(version: str, scenario: str) -> dict[str, str]:
    """The outputs of ``scenario`` that differ from real Slurm ``version``'s, with the reason."""
    return KNOWN.get(version, {}).get(scenario, {})


def real_timing(version: str, scenario: str) -> dict[str, str]:
    """The outputs of ``scenario`` whose real answer depends on timing inside real Slurm."""
    return REAL_TIMING.get(version, {}).get(scenario, {})
