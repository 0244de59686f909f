"""The simulator's Grid Engine against REAL Grid Engine 8.1.9's saved answers (never skips).

``tests/data/sge_real/session.json`` holds what the real tools printed for every step of
``sge_scenario.SCENARIO`` (captured by ``tests/tools/capture_sge.py``). The same steps run on
``SimCluster(scheduler="sge")``; after :func:`sge_normalize.normalize` (ids, times, host, user,
paths, measured figures) stdout, stderr and exit code must be identical, step by step.
"""

from __future__ import annotations

import json
import os

import pytest
from sge_normalize import Side, normalize
from sge_scenario import SCENARIO
from sge_sim_runner import run_on_simulator

CAPTURE = os.path.join(os.path.dirname(__file__), os.pardir, "data", "sge_real", "session.json")


def load_real() -> tuple[list[dict], Side]:
    with open(CAPTURE) as fh:
        data = json.load(fh)
    facts = data["facts"]
    side = Side(hosts=(facts["host"],), user=facts["user"], home=facts["home"], work_dir=facts["work_dir"],
                jobs=tuple(facts["jobs"]))
    return data["outcomes"], side


@pytest.fixture(scope="module")
def transcripts(tmp_path_factory):
    real, real_side = load_real()
    sim, sim_side = run_on_simulator(str(tmp_path_factory.mktemp("sge-golden")))
    return real, real_side, sim, sim_side


def test_the_capture_covers_the_scenario():
    real, _ = load_real()
    assert [o["command"] for o in real] == [s.command for s in SCENARIO], \
        "tests/data/sge_real/session.json is stale: re-run tests/tools/capture_sge.py against real SGE"


@pytest.mark.parametrize("index", range(len(SCENARIO)), ids=[s.command[:40] for s in SCENARIO])
def test_step_matches_real_grid_engine(transcripts, index):
    real, real_side, sim, sim_side = transcripts
    step = SCENARIO[index]
    want, got = real[index], sim[index]
    for stream in ("stdout", "stderr"):
        expected = normalize(want[stream], real_side)
        actual = normalize(getattr(got, stream), sim_side)
        assert actual == expected, f"{stream} of `{step.command}` differs from real Grid Engine"
    assert got.rc == want["rc"], f"exit code of `{step.command}`: simulator {got.rc}, real {want['rc']}"
