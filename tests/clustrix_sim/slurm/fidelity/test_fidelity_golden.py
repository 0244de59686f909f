"""The simulator against real Slurm 22.05's recorded answers (runs everywhere, CI included).

Each scenario of ``fidelity_scenarios`` is played on a simulator configured as the site real
Slurm ran (``SIM_SITE``); its normalized outputs must equal the golden files recorded from real
Slurm 22.05.8 (``tests/data/slurm_real/``, written by ``fidelity_runner.py --write``), except the
differences listed in ``fidelity_known.KNOWN``, each with its reason. The list is exact: a known
difference that disappears fails the test too, so the list only shrinks by being edited.
"""

from __future__ import annotations

import pytest
from fidelity_golden import golden_path, load, sim_outputs
from fidelity_known import KNOWN
from fidelity_normalize import differences
from fidelity_scenarios import SCENARIOS


def differing_commands(found: list[str]) -> set[str]:
    return {line.split("\n", 1)[0] for line in found}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_simulator_answers_as_real_slurm_did(name: str) -> None:
    assert golden_path(name).exists(), f"no golden file for {name}; run fidelity_runner.py --write"
    found = differences(load(name), sim_outputs(name))
    unexpected = [line for line in found if line.split("\n", 1)[0] not in KNOWN.get(name, {})]
    assert not unexpected, "\n\n".join(unexpected)
    gone = set(KNOWN.get(name, {})) - differing_commands(found)
    assert not gone, f"known differences no longer differ (remove them from fidelity_known): {gone}"


def test_golden_files_record_the_scenarios_they_came_from() -> None:
    import json

    for name, steps in SCENARIOS.items():
        data = json.loads(golden_path(name).read_text())
        assert data["scenario"] == name and data["slurm_version"].startswith("22.05")
        assert data["steps"] == [list(s) for s in steps], f"{name}: scenario changed; re-record it"
        commands = [o["command"] for o in data["outputs"]]
        assert len(commands) >= len([s for s in steps if s[0] != "file"])
