"""clustrix's Grid Engine parsers on what REAL Grid Engine 8.1.9 printed
(``tests/data/sge_real/session.json``, made by ``tests/tools/capture_sge.py``): submit ids,
``qstat -xml`` states and ``qacct -j`` outcomes of every way the scenario's jobs ended."""

from __future__ import annotations

import json
import os

import pytest

from clustrix.schedulers import sge
from clustrix.schedulers.sge.states import parse_memory_bytes
from clustrix.states import JobState as S

SESSION = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "data", "sge_real", "session.json")


@pytest.fixture(scope="module")
def session():
    with open(SESSION) as fh:
        data = json.load(fh)
    jobs = data["facts"]["jobs"]
    by_command = {}
    for outcome in data["outcomes"]:
        by_command.setdefault(outcome["command"], []).append(outcome)
    return jobs, by_command


def test_every_accepted_submission_parses_to_its_job_number(session):
    jobs, by_command = session
    printed = [o["stdout"] for cmd, outs in by_command.items() if cmd.lstrip().startswith(("qsub", "printf"))
               for o in outs if o["rc"] == 0]
    assert [sge.parse_submit(text) for text in printed] == jobs


def test_qstat_xml_states_of_running_held_waiting_and_arrays(session):
    jobs, by_command = session
    full = by_command["qstat -xml"][1]["stdout"]
    states = {k: (v.state, v.raw) for k, v in sge.parse_status(full).items()}
    j = dict(enumerate(jobs, 1))
    assert states[j[1]] == (S.RUNNING, "r") and states[j[3]] == (S.PENDING, "qw")
    assert states[j[2]] == (S.PENDING, "hqw") and states[j[7]] == (S.PENDING, "hqw")  # -h and -hold_jid
    assert {k for k in states if k.startswith(j[4] + ".")} == {f"{j[4]}.{t}" for t in (1, 3, 5)}
    assert {k for k in states if k.startswith(j[6] + ".")} == {f"{j[6]}.2", f"{j[6]}.3"}  # printed "2,3"
    assert sge.parse_status(by_command["qstat -xml"][0]["stdout"]) == {}  # no jobs


@pytest.mark.parametrize("command,keys,state,exit_code", [
    ("qacct -j $J8", [""], S.COMPLETED, 0),       # true
    ("qacct -j $J9", [""], S.FAILED, 1),          # false
    ("qacct -j $J10", [""], S.TIMEOUT, 137),      # h_rt=2, sleep 60: failed 37
    ("qacct -j $J11", [""], S.FAILED, 3),         # script exit 3
    ("qacct -j $J12", [".1", ".2"], S.COMPLETED, 0),
    ("qacct -j $J1", [""], S.CANCELLED, 137),     # qdel of a running job: failed 100
    ("qacct -j $J13", [""], S.COMPLETED, 0),      # -pe smp 2
])
def test_qacct_outcomes(session, command, keys, state, exit_code):
    jobs, by_command = session
    number = jobs[int(command.split("$J")[1]) - 1]
    (outcome,) = by_command[command]
    parsed = sge.parse_accounting(outcome["stdout"])
    assert sorted(parsed) == [number + k for k in keys]
    assert {(s.state, s.exit_code) for s in parsed.values()} == {(state, exit_code)}


def test_unknown_ids_read_as_unknown_job_errors(session):
    _, by_command = session
    assert sge.is_unknown_job_error(by_command["qacct -j 99999"][0]["stderr"])
    assert sge.is_unknown_job_error(by_command["qstat -j 99999"][0]["stderr"])
    assert sge.is_unknown_job_error(by_command["qdel 99999"][0]["stdout"])


@pytest.mark.parametrize("text,value", [("3.102MB", 3.102 * 1024**2), ("0.000B", 0.0), ("30.409KB", 30.409 * 1024),
                                        ("1.950GB", 1.95 * 1024**3), ("10.000M", 10 * 1024**2)])
def test_qacct_memory_figures_of_8_1_9(text, value):
    assert parse_memory_bytes(text) == pytest.approx(value)
