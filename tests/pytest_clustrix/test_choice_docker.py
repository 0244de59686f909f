"""``<scheduler>-docker`` values: the real schedulers always, simulated ones once their front end exists."""

from __future__ import annotations

import pytest

from pytest_clustrix import choice


def test_real_schedulers_are_offered_in_docker():
    assert {"slurm-docker", "sge-docker"} <= set(choice.valid_values())
    parsed = choice.parse("sge-docker", "command line")
    assert (parsed.kind, parsed.scheduler, parsed.uses_simulator) == ("docker", "sge", True)


def test_a_simulated_scheduler_appears_in_docker_with_its_front_end(monkeypatch):
    monkeypatch.setattr(choice, "available_sim_schedulers", lambda: ("slurm",))
    with pytest.raises(ValueError, match="pbs-docker"):
        choice.parse("pbs-docker", "command line")
    monkeypatch.setattr(choice, "available_sim_schedulers", lambda: ("slurm", "pbs"))
    assert choice.parse("pbs-docker", "command line").scheduler == "pbs"
