"""clustrix's SLURM status parsers on what REAL Slurm 22.05.8 and 24.11.5 printed.

The fidelity suite's golden files (``tests/data/slurm_real/``, ``tests/data/slurm_real_2411/``)
hold, per scenario, real Slurm's answer to clustrix's own status query (``sacct --noheader
--parsable2 --allocations --format=JobID,State,ExitCode,Reason``) and to its fallback when
accounting is off (``squeue --noheader --array --states=all --format=%i|%T|%r``), once every job
has ended. Job ids there are normalized to ``J00001``.. (rank in submission order); they are
turned back into numbers of the same width before parsing. The table says how each job of each
scenario ended; clustrix must classify it so on both releases — in particular cancelled and
timed-out jobs, whose job row says ``0:0`` on real Slurm (the signal is on the ``.batch`` step,
which ``--allocations`` leaves out), and finished jobs whose Reason is their last wait reason.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from clustrix.schedulers import slurm
from clustrix.states import JobState as S

DATA = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "data")
RELEASES = {"22.05": "slurm_real", "24.11": "slurm_real_2411"}
STATUS_QUERY = "sacct --noheader --parsable2 --allocations --format=JobID,State,ExitCode,Reason --jobs={ALL}"
FALLBACK_QUERY = "squeue --noheader --array --states=all --jobs={ALL} --format=%i|%T|%r"

# scenario -> {job (by submission rank, "J1_3" for an array task): (state, exit code from sacct)}
ENDINGS: dict[str, dict[str, tuple[S, int | None]]] = {
    "basic": {"J1": (S.COMPLETED, 0), "J2": (S.FAILED, 3), "J3": (S.COMPLETED, 0)},
    "cancel_and_memory": {"J1": (S.CANCELLED, 0), "J2": (S.CANCELLED, 0)},  # running; pending
    "timeout": {"J1": (S.TIMEOUT, 0)},
    "dependencies": {"J1": (S.COMPLETED, 0), "J2": (S.COMPLETED, 0), "J3": (S.FAILED, 1),
                     "J4": (S.CANCELLED, 0)},  # held then released; its dependant; failed; never satisfied
    "array_limit": {f"J1_{task}": (S.CANCELLED, 0) for task in (1, 2, 3, 4)},  # 2 running, 2 throttled
}


def real_output(release: str, scenario: str, command: str) -> str:
    with open(os.path.join(DATA, RELEASES[release], f"{scenario}.json")) as fh:
        data = json.load(fh)
    found = [o["stdout"] for o in data["outputs"] if o["command"] == command]
    assert len(found) == 1, f"{scenario}: the golden file has {len(found)} outputs of {command!r}"
    return found[0]


def denormalize(text: str) -> str:
    """``J00002`` -> ``100002``: a job id again, of the same width."""
    return re.sub(r"J(\d{5})", lambda m: "1" + m.group(1), text)


def key(job: str) -> str:
    rank, _, task = job[1:].partition("_")
    return f"1{int(rank):05d}" + (f"_{task}" if task else "")


CASES = [(release, scenario) for release in RELEASES for scenario in ENDINGS]


@pytest.mark.parametrize("release,scenario", CASES)
def test_sacct_status_of_real_slurm_classifies_every_ending(release: str, scenario: str) -> None:
    statuses = slurm.parse_status(denormalize(real_output(release, scenario, STATUS_QUERY)))
    got = {job: (statuses[key(job)].state, statuses[key(job)].exit_code) for job in ENDINGS[scenario]}
    assert got == ENDINGS[scenario]
    assert not any(s.problem for s in statuses.values())


@pytest.mark.parametrize("release,scenario", CASES)
def test_squeue_fallback_of_real_slurm_classifies_every_ending(release: str, scenario: str) -> None:
    statuses = slurm.parse_fallback_status(denormalize(real_output(release, scenario, FALLBACK_QUERY)))
    # squeue keeps a finished job for MinJobAge: all of them here; it has no exit codes
    got = {job: statuses[key(job)].state for job in ENDINGS[scenario]}
    assert got == {job: state for job, (state, _) in ENDINGS[scenario].items()}


def test_a_finished_jobs_reason_is_its_last_wait_reason_on_real_slurm() -> None:
    """What clustrix reports with the state (``JobStatus.reason``, shown in errors and
    ``clustrix jobs``): real Slurm's own words, which for a job that ended after waiting are the
    wait's reason — a completed job that was held says JobHeldUser on 22.05."""
    statuses = slurm.parse_status(denormalize(real_output("22.05", "dependencies", STATUS_QUERY)))
    assert (statuses[key("J1")].state, statuses[key("J1")].reason) == (S.COMPLETED, "JobHeldUser")
