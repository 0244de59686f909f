"""The simulator against real Slurm's recorded answers, per release (runs everywhere, CI included).

Each scenario of ``fidelity_scenarios`` is played on a simulator configured as the site real
Slurm ran (``site_for(version)``: the same ``SlurmSite`` real Slurm's slurm.conf was rendered
from) and answering as that release; its normalized outputs must equal the golden files
recorded from real Slurm 22.05.8 (``tests/data/slurm_real/``) and 24.11.5
(``tests/data/slurm_real_2411/``), written by ``fidelity_runner.py --version V --write``, except
the differences listed in ``fidelity_known.KNOWN[version]``, each with its reason. The list is
exact: a known difference that disappears fails the test too, so the list only shrinks by being
edited.
"""

from __future__ import annotations

import json

import pytest
from fidelity_golden import golden_path, load, sim_outputs
from fidelity_known import known
from fidelity_normalize import differences
from fidelity_scenarios import SCENARIOS, VERSIONS


def differing_commands(found: list[str]) -> set[str]:
    return {line.split("\n", 1)[0] for line in found}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_simulator_answers_as_real_slurm_did(name: str, version: str) -> None:
    assert golden_path(name, version).exists(), f"no golden file for {name}; run fidelity_runner.py --write"
    found = differences(load(name, version), sim_outputs(name, version))
    expected = known(version, name)
    unexpected = [line for line in found if line.split("\n", 1)[0] not in expected]
    assert not unexpected, "\n\n".join(unexpected)
    gone = set(expected) - differing_commands(found)
    assert not gone, f"known differences no longer differ (remove them from fidelity_known): {gone}"


@pytest.mark.parametrize("version", VERSIONS)
def test_golden_files_record_the_scenarios_they_came_from(version: str) -> None:
    for name, steps in SCENARIOS.items():
        data = json.loads(golden_path(name, version).read_text())
        assert data["scenario"] == name and data["slurm_version"].startswith(version)
        assert data["steps"] == [list(s) for s in steps], f"{name}: scenario changed; re-record it"
        commands = [o["command"] for o in data["outputs"]]
        assert len(commands) >= len([s for s in steps if s[0] != "file"])
