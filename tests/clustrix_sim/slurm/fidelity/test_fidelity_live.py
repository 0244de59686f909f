"""The simulator against real Slurm itself, when this host runs it as the fidelity site.

Start it with ``tests/clustrix_sim/slurm/fidelity/host_slurm.sh start`` (root, Debian's
``slurm-wlm slurmdbd munge mariadb-server``); without it these tests skip and say why, and
``test_fidelity_golden`` holds the simulator against the recorded answers instead.
"""

from __future__ import annotations

import pytest
from fidelity_golden import sim_outputs
from fidelity_known import KNOWN, REAL_TIMING
from fidelity_normalize import differences
from fidelity_runner import play_on_real, real_slurm_available
from fidelity_scenarios import FINAL_QUERIES, SCENARIOS

WHY_NOT = real_slurm_available()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"real Slurm: {WHY_NOT}")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_simulator_answers_as_real_slurm_does(name: str) -> None:
    found = differences(play_on_real(SCENARIOS[name], FINAL_QUERIES), sim_outputs(name))
    allowed = {**KNOWN.get(name, {}), **REAL_TIMING.get(name, {})}
    unexpected = [line for line in found if line.split("\n", 1)[0] not in allowed]
    assert not unexpected, "\n\n".join(unexpected)
