"""The simulator against real Slurm itself, per release, when it runs as the fidelity site.

22.05: ``tests/clustrix_sim/slurm/fidelity/host_slurm.sh start`` (root, Debian bookworm's
``slurm-wlm slurmdbd munge mariadb-server``); 24.11: ``python
tests/clustrix_sim/slurm/fidelity/container_slurm.py start`` (Docker; Debian trixie's Slurm in
the ``clustrix-slurm2411`` image). Without them these tests skip and say why, and
``test_fidelity_golden`` holds the simulator against the recorded answers instead.
"""

from __future__ import annotations

import pytest
from fidelity_golden import sim_outputs
from fidelity_known import known, real_timing
from fidelity_normalize import differences
from fidelity_runner import play_on_real, real_slurm_available
from fidelity_scenarios import FINAL_QUERIES, SCENARIOS, VERSIONS

WHY_NOT = {version: real_slurm_available(version) for version in VERSIONS}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_simulator_answers_as_real_slurm_does(name: str, version: str) -> None:
    if WHY_NOT[version]:
        pytest.skip(f"real Slurm {version}: {WHY_NOT[version]}")
    found = differences(play_on_real(SCENARIOS[name], FINAL_QUERIES, version), sim_outputs(name, version))
    allowed = {**known(version, name), **real_timing(version, name)}
    unexpected = [line for line in found if line.split("\n", 1)[0] not in allowed]
    assert not unexpected, "\n\n".join(unexpected)
