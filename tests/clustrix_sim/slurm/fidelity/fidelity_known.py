"""Differences between the simulator and real Slurm 22.05 that remain, each with its reason.

Keys are ``"<command as in the scenario>: <rc|stdout|stderr>"`` per scenario; the golden test
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

Other releases (not measured here: 24.11 runs in the container work, without accounting so far).
The goldens are 22.05.8's. Outputs these scenarios capture that are known or expected to change
by release, to check first when 24.11 has accounting: ``scontrol show job`` (23.02 replaced the
single ``TRES=`` line with ``ReqTRES=``/``AllocTRES=``; later releases add keys), ``sacct``
options (``--array`` is unknown to 22.05's sacct), error texts of ``sbatch`` refusals, and
squeue's ordering of equal-priority rows.
"""

from __future__ import annotations

_ARRAY_IDS = ("array tasks are numbered at submission in the simulator, when they start in "
              "real Slurm (see the module docstring)")
_ARRAY_ORDER = ("the array's unstarted tasks are the array's own record in real Slurm, listed "
                "first among equal-priority rows (see the module docstring)")

KNOWN: dict[str, dict[str, str]] = {
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
REAL_TIMING: dict[str, dict[str, str]] = {
    "dependencies": {
        "sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,Reason --jobs={ALL}: stdout":
            "accounting stores a pending reason when slurmctld next writes the job's row, so a job "
            "cancelled after its dependency failed shows Dependency or DependencyNeverSatisfied",
    },
}
