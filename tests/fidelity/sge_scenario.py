"""One scripted Grid Engine session, run the same way on REAL Grid Engine and on the simulator.

A scenario is a list of :class:`Step`: a shell command line (run with ``sh -c`` in a fresh work
directory, as a normal user) and, optionally, a condition to reach before it runs (polled with a
deadline, never slept on). ``$J1``, ``$J2``... in a command are the job numbers that earlier
accepted ``qsub`` steps printed, in order. ``sge_normalize.normalize`` then replaces what must differ between
two clusters (job numbers in order of appearance, dates and times, host and user names, the work
directory, run-dependent figures) so the two transcripts can be compared byte for byte.

Used by ``tests/tools/capture_sge.py`` (saves the real transcript under ``tests/data/sge_real/``)
and by the fidelity tests (real vs simulator when real SGE runs here; simulator vs the saved
transcript always).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SCENARIO", "Outcome", "Step", "run_scenario"]

Run = Callable[[str], tuple[str, str, int]]
"""Runs one shell command line in the work directory: (stdout, stderr, exit code)."""


@dataclass(frozen=True)
class Step:
    command: str
    until: str | None = None  # a command that must exit 0 (and print something) before this step
    compare: bool = True  # False: run it, keep it in the transcript, but its output is run-dependent


@dataclass(frozen=True)
class Outcome:
    command: str
    stdout: str
    stderr: str
    rc: int


def _gone(job: str) -> str:
    """True once the job has left qstat and qacct knows it (accounting written)."""
    return f"! qstat | grep -q '^ *{job} ' && qacct -j {job} >/dev/null 2>&1 && echo done"


def _running(job: str) -> str:
    return f"qstat | grep '^ *{job} ' | grep ' r '"


SCENARIO: tuple[Step, ...] = (
    Step("qstat"),
    Step("qstat -xml"),
    Step("qacct -j 99999"),
    Step("qdel 99999"),
    Step("qstat -j 99999"),
    Step("qsub -terse -b y -N sleeper sleep 300"),                       # J1 runs
    Step("qsub -terse -h -b y -N held true"),                             # J2 hqw
    Step("qsub -terse -pe smp 8 -b y -N toobig true"),                    # J3 qw forever
    Step("qsub -terse -t 1-5:2 -h -b y -N arr true"),                     # J4 array, held
    Step("qsub -b y -N chatty -h true"),                                  # J5 chatty message
    Step("qsub -t 2-3 -h -b y true"),                                     # J6 chatty array
    Step("qsub -terse -hold_jid $J2 -b y -N dep true"),                  # J7 waits for J2
    Step("qstat", until=_running("$J1")),
    Step("qstat -xml"),
    Step("qstat -s p"),
    Step("qstat -s r"),
    Step("qstat -u nobody"),
    Step("qstat -f"),
    Step("qstat -j $J2"),
    Step("qhost"),
    Step("qhold $J1"),
    Step("qhold $J3"),
    Step("qrls $J3"),
    Step("qrls $J2"),
    Step("qdel $J3"),
    Step("qdel $J4"),
    Step("qdel $J5 $J6"),
    Step("qdel $J1"),
    Step("qdel 99999"),
    Step("qstat", until=_gone("$J1")),
    Step("qsub -terse -b y -N ok true", until=_gone("$J2")),              # J8
    Step("qsub -terse -b y -N bad false"),                                # J9
    Step("qsub -terse -l h_rt=0:0:2 -b y -N slow sleep 60"),              # J10
    Step("printf '#!/bin/sh\\n#$ -N fromscript\\n#$ -o out.$JOB_ID.txt\\n#$ -j y\\n"
         "echo task=$SGE_TASK_ID name=$JOB_NAME slots=$NSLOTS\\nexit 3\\n' > job.sh && "
         "qsub -terse job.sh"),                                           # J11
    Step("qsub -terse -t 1-2 -cwd -o 'arr.$TASK_ID.out' -j y -b y -N tasks "
         "'echo $SGE_TASK_ID $SGE_TASK_FIRST $SGE_TASK_LAST $SGE_TASK_STEPSIZE'"),  # J12
    Step("qacct -j $J8", until=_gone("$J8")),
    Step("qacct -j $J9", until=_gone("$J9")),
    Step("qacct -j $J10", until=_gone("$J10")),
    Step("qacct -j $J11", until=_gone("$J11")),
    Step("cat out.$J11.txt"),
    Step("cat $HOME/out.$J11.txt"),
    Step("qacct -j $J12", until=_gone("$J12")),
    Step("cat arr.1.out arr.2.out"),
    Step("qacct -j $J1"),
    Step("qsub -pe nope 2 -b y true"),
    Step("qsub -q nope.q -b y true"),
    Step("qsub -l h_vmemx=1G -b y true"),
    Step("qsub /nonexistent/job.sh"),
    Step("qsub -terse -pe smp 2 -b y -N pe2 'echo $NSLOTS'"),            # J13
    Step("qacct -j $J13", until=_gone("$J13")),
    Step("qsub -t 5-1 -h -b y true"),                                     # J14 (the range is turned round)
    Step("qstat"),
    Step("qdel $J14"),
    Step("qstat", until=_gone("$J7")),
)

_SUBMITTED = re.compile(r"^(\d+)(?:\.\d+-\d+:\d+)?$|^Your job(?:-array)? (\d+)")


def run_scenario(run: Run, steps: tuple[Step, ...] = SCENARIO, *,
                 wait_s: float = 60.0) -> tuple[list[Outcome], list[str]]:
    """Run every step in order; a step's ``until`` is polled (20 ms apart) up to ``wait_s``.
    Returns the outcomes and the job numbers accepted submissions printed, in order."""
    jobs: list[str] = []
    out: list[Outcome] = []
    for step in steps:
        command = _subst(step.command, jobs)
        if step.until:
            _wait(run, _subst(step.until, jobs), wait_s)
        stdout, stderr, rc = run(command)
        first = stdout.strip().splitlines()[:1]
        m = _SUBMITTED.match(first[0]) if first else None
        if m and command.lstrip().startswith(("qsub", "printf")):
            jobs.append(m.group(1) or m.group(2))
        out.append(Outcome(step.command, stdout, stderr, rc))
    return out, jobs


def _subst(text: str, jobs: list[str]) -> str:
    for i in range(len(jobs), 0, -1):  # $J11 before $J1
        text = text.replace(f"$J{i}", jobs[i - 1])
    return text


def _wait(run: Run, probe: str, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        stdout, _, rc = run(probe)
        if rc == 0 and stdout.strip():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {wait_s} s for {probe!r}; the cluster never got there")
        time.sleep(0.02)  # a poll interval with a deadline, not a synchronization sleep
