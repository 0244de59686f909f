"""The simulator's Grid Engine against REAL Grid Engine running on this host, live.

Runs ``sge_scenario.SCENARIO`` on real Grid Engine (as a normal user, through ``runuser``) and on
``SimCluster(scheduler="sge")``, and requires identical stdout, stderr and exit codes after
normalizing ids, times, hosts, users, paths and measured figures. Skips, naming what is missing,
when real Grid Engine is not installed or not running here (``tests/tools/sge_real_up.sh``
starts it); ``test_sge_golden`` checks the same against saved captures everywhere.
"""

from __future__ import annotations

import shutil

import pytest
from sge_normalize import normalize
from sge_real_runner import clean_home, real_grid_engine_missing, run_on_real, scenario_user
from sge_scenario import SCENARIO
from sge_sim_runner import run_on_simulator

MISSING = real_grid_engine_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    real, real_side, work_dir = run_on_real(scenario_user() or "")
    shutil.rmtree(work_dir, ignore_errors=True)  # the scenario's files in the user's home
    clean_home(real_side)
    sim, sim_side = run_on_simulator(str(tmp_path_factory.mktemp("sge-diff")))
    return real, real_side, sim, sim_side


@pytest.mark.parametrize("index", range(len(SCENARIO)), ids=[s.command[:40] for s in SCENARIO])
def test_simulator_answers_like_real_grid_engine(both, index):
    real, real_side, sim, sim_side = both
    command = SCENARIO[index].command
    for stream in ("stdout", "stderr"):
        assert normalize(getattr(sim[index], stream), sim_side) == normalize(getattr(real[index], stream), real_side), \
            f"{stream} of `{command}`: the simulator differs from real Grid Engine"
    assert sim[index].rc == real[index].rc, f"exit code of `{command}`: simulator {sim[index].rc}, real {real[index].rc}"
